"""The API used by pages and the CLI; it alone holds the store and writes audit events."""
