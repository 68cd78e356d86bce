"""Argon2 with a small memory cost, so tests that create many members stay fast while still
exercising the real argon2 code path."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 64
    parallelism = 1
