"""neuromotor's brains and everything around them, in layers whose imports flow downwards only:

``cli`` > ``recipes`` > ``sweeps`` > ``analysis`` | ``training`` > ``evaluation`` > ``brains`` > ``vecenvs`` >
``runs`` > ``config`` > ``constants`` (the contract is in pyproject.toml, checked by ``lint-imports``).
"""
