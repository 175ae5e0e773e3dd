"""Visitors' personal data kept out of LLM calls: detectors, and placeholders that stand in
for what they find."""
