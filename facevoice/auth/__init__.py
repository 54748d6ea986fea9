"""How a person proves who they are: one module per factor, one policy that decides.

A log-in is a set of proven factors (``factors``): ``biometric`` proves the face and the
voice from one attempt, ``recovery_codes`` a one-time recovery code, ``passkey`` (WebAuthn,
to come) a passkey. ``policy`` turns the proven set into a decision and into the RFC 8176
``amr`` values that ``facevoice.web.security.start_login_session`` records on the session,
where the account page and the OpenID Connect provider read them (``login_record``).
"""
