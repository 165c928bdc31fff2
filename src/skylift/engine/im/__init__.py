"""IM contact lists: each user's roster from one XMPP server to another."""
