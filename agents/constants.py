"""Seeds and counts that several layers share. A leaf: it imports nothing."""

#: Test episodes: deterministic, from a seed no training run uses. Bundled brains are judged on these.
TEST_SEED = 100_000
#: Episodes of a bundled brain's test.
TEST_EPISODES = 10
#: Validation episodes (choosing among checkpoints, analyses): apart from the test seeds.
VALIDATION_SEED = 200_000
#: Recorded datasets (``neuromotor dataset``): apart from the test and validation seeds.
DATASET_SEED = 300_000
#: The student's own episodes in DAgger (``neuromotor imitate --dagger``): apart from the dataset's.
DAGGER_SEED = 400_000
#: The envs that evaluate a run during training are seeded this far above the run's own seed.
TRAINING_EVAL_SEED_OFFSET = 10_000
