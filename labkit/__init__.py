"""labkit: the lab bench of LLM Lab, a hands-on course on how large language models work."""

__version__ = "0.1.0"
