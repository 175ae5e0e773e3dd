"""GDPR: a data subject's erasure and export across every copy, and tenant offboarding."""
