"""Derive: who read what, from the events: routes and record ids, authentication, request twins,
networks, actors and their links, ownership, and the one table every detector reads
(``detect_requests``). Re-runnable with other settings."""
