"""Pure moderation domain: statuses, text handling, sanitising, rules. No Flask, no SQLAlchemy."""
