"""One router per resource: certificates, cases, holders, consents, subscriptions, operations."""
