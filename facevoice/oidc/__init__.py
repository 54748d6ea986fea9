"""The OpenID Connect provider: signing keys, the log-in policy and the Authlib server."""
