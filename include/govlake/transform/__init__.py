"""The libraries (basic · thematic · special) built by dbt from the raw tables."""
