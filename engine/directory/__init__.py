"""The demo company directory: accounts and VPN profiles that `directory.*` operations manage."""
