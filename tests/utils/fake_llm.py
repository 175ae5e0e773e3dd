"""The stand-in LLM server the tests drive the real SDKs against (see parley.bench.standin)."""

from parley.bench.standin import FakeLLM

__all__ = ["FakeLLM"]
