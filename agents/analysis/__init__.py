"""The brain view: recordings of hidden states, population analyses, lesions and perturbations, figures."""
