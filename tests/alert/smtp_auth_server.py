# A real aiosmtpd SMTP server that requires STARTTLS and then AUTH (PLAIN or
# LOGIN) with one user/password, for tests/alert/smtp_tls.sh. Accepted mails
# are appended to OUT with the authenticated login; failed logins are counted
# in OUT as "AUTH-FAIL <login>" lines.
# usage: smtp_auth_server.py PORT CERT KEY USER PASSWORD OUT
import asyncio, ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, out = sys.argv[1:7]


def log(line):
    with open(out, "a") as f:
        f.write(line + "\n")


class Auth:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        if not ok:
            log("AUTH-FAIL %s" % auth_data.login.decode())
        return AuthResult(success=ok, auth_data=auth_data if ok else None)


class Handler:
    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login.decode() if session.auth_data else "-"
        log("MAIL login=%s to=%s" % (login, ",".join(envelope.rcpt_tos)))
        return "250 OK"


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
c = Controller(Handler(), hostname="127.0.0.1", port=int(port), authenticator=Auth(),
               auth_required=True, auth_require_tls=True, tls_context=ctx, require_starttls=True)
c.start()
try:
    while True:
        time.sleep(1)
finally:
    c.stop()
