"""What the dev login page lists: people to sign in as, each with a note. The shell decides who they are (the demo's
cast, demo/cast.py) and hands the list to ``create_app(sign_in_list=…)``; the app never imports the demo (D-54)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Protocol

from catalog import Directory


class SignInPerson(Protocol):
    """A person the page offers (demo.organisation.CastMember has these)."""

    @property
    def hsa_id(self) -> str: ...

    @property
    def given_name(self) -> str: ...

    @property
    def surname(self) -> str: ...


class SignInLine(Protocol):
    """One line of the list: the person and a note that says who they are (demo.cast.CastLine)."""

    @property
    def member(self) -> SignInPerson: ...

    @property
    def note(self) -> str: ...


# The lines to show, read when the page is shown (the notes say what the directory holds now).
SignInList = Callable[[Directory, dt.datetime], Sequence[SignInLine]]
