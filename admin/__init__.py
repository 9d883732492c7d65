"""Server-rendered web pages (portal, inbox, designer, console); built in the web issue."""
