"""The web app as the shell serves it: api's app with the demo's cast on the dev login page (D-54).

`make run` starts it with ``npo web`` (plain HTTP) and ``npo certs serve`` (SITHS mTLS), each serving the same. The
page lists the cast only with NPO_DEV_LOGIN=true outside production (api/routes/auth.py).
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app as create_api_app
from demo.cast import cast_lines
from demo.named import patient_sign_in


def create_app() -> FastAPI:
    """The app with the demo's cast as the dev login's list and the named patients as the patient view's."""
    return create_api_app(sign_in_list=cast_lines, patient_sign_in_list=patient_sign_in)
