"""Quality auditing: rules from the catalog and configuration, GX suites, audits, scores,
work orders and reports."""
