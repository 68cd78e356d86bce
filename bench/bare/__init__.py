"""A bare Channels group chat, the tutorial's consumer and nothing else: the baseline the
chat server is measured against in the same benchmark run (see bench/README.md)."""
