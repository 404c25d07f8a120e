"""Operators and customers from the command line (`xenpair web user`), for scripts and first
set-ups; Django's admin does the same on the page."""

from __future__ import annotations

import secrets

from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from xenpair.errors import BadInput
from xenpair.web.models import Customer
from xenpair.web.orders import audit


def set_user(name: str, operator: bool, password: str | None, allowance: dict) -> tuple[bool, str | None]:
    """Create or update user NAME; returns (created, the generated password when one was made).

    An operator is a staff user with every permission on xenpair's models in the admin; a customer
    gets (or keeps) a Customer row, whose fields in ALLOWANCE that are not None are set."""
    if not name or len(name) > 150 or not all(c.isalnum() or c in "@.+-_" for c in name):
        raise BadInput(f"invalid user name {name!r}", hint="letters, digits and @.+-_ only, at most 150")
    generated = None
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=name)
        if created and password is None:
            password = generated = secrets.token_urlsafe(12)
        if password is not None:
            try:
                validate_password(password, user)
            except ValidationError as e:
                raise BadInput(f"password for {name} refused: {' '.join(e.messages)}") from None
            user.set_password(password)
        if user.is_staff != operator and not created:
            raise BadInput(f"{name} is {'an operator' if user.is_staff else 'a customer'} already",
                           hint="use another name, or change the account in the admin")
        user.is_staff = user.is_superuser = operator
        user.save()
        if not operator:
            customer, _ = Customer.objects.get_or_create(user=user)
            for field, value in allowance.items():
                if value is not None:
                    setattr(customer, field, value)
            customer.save()
    given = ", ".join(f"{k}={v}" for k, v in allowance.items() if v is not None)
    audit(None, "user " + ("created" if created else "updated"), name, None,
          "operator" if operator else f"customer {given}")
    return created, generated
