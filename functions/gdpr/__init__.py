"""GDPR: erasure and export of a data subject's data, with an audit trail."""
