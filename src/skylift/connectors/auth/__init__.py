"""Sign-in shared by every kind: OAuth2 token minting and caching, SASL XOAUTH2/OAUTHBEARER."""
