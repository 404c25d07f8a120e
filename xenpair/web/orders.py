"""Orders: what a customer asks for, checked against their allowance; what an operator decides.

Every check is the CLI's own (names, SSH keys, external IPs: xenpair.core.validate) plus the
allowance, which is checked when the order is placed, again at approval, and again by the worker
before it builds (an allowance can shrink in between). A refusal says which limit and by how much.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from xenpair.errors import BadInput
from xenpair.web.models import AuditEvent, Customer, Job, Order, Pair


def allowance_problem(customer: Customer, package: str, external_ip: bool, exclude: Order | None = None) -> str | None:
    """Why one more pair of PACKAGE (with an external IP or not) exceeds CUSTOMER's allowance."""
    if customer.packages and package not in customer.packages:
        return f"package {package} is not in your allowance (allowed: {', '.join(customer.packages)})"
    pairs = Pair.objects.filter(customer=customer)
    if exclude is not None:
        pairs = pairs.exclude(name=exclude.name)
    if pairs.count() + 1 > customer.max_pairs:
        return (f"your allowance is {customer.max_pairs} pair{'s' if customer.max_pairs != 1 else ''}; you have "
                f"{pairs.count()} (with orders not yet built): this one would be "
                f"{pairs.count() + 1 - customer.max_pairs} over")
    if external_ip:
        used = pairs.filter(external_ip=True).count()
        if used + 1 > customer.external_ips:
            return (f"your allowance is {customer.external_ips} external IP{'s' if customer.external_ips != 1 else ''};"
                    f" you use {used}: this one would be {used + 1 - customer.external_ips} over")
    return None


def _check_allowance(customer: Customer, order: Order, when: str) -> None:
    problem = allowance_problem(customer, order.package, bool(order.external_ip), exclude=order)
    if problem:
        raise BadInput(f"{when}: {problem}", hint="ask your provider for a larger allowance")


def place(customer: Customer, name: str, package: str, external_ip: str | None, ssh_keys: str,
          address: str | None = None) -> Order:
    """A new order for a pair. The name is reserved for this customer at once: of two orders for
    one name, the second is told so."""
    from xenpair.core.validate import check_name, check_ssh_keys

    check_name(name)
    keys = check_ssh_keys(ssh_keys, "the SSH keys")
    order = Order(customer=customer, action="create", name=name, package=package, external_ip=external_ip or None,
                  ssh_keys="\n".join(keys) + "\n")
    _check_allowance(customer, order, "not ordered")
    try:
        with transaction.atomic():
            Pair.objects.create(name=name, customer=customer, ssh_keys=order.ssh_keys,
                                external_ip=bool(external_ip))
            order.save()
    except IntegrityError:
        raise BadInput(f"the name {name!r} is taken", hint="choose another name") from None
    audit(customer.user, "order", name, address, f"placed ({package})")
    if customer.auto_approve:
        approve(order, None, address)
    return order


def change(customer: Customer, name: str, action: str, keep_backup: bool = True, address: str | None = None) -> Order:
    """A rebuild of the hosting machine (the backup machine and its backups stay) or the removal
    of a pair: an order an operator approves, unless the allowance lets the customer do it alone."""
    pair = _own_pair(customer, name)
    _refuse_busy(pair.name)
    order = Order.objects.create(customer=customer, action=action, name=pair.name, ssh_keys=pair.ssh_keys,
                                 keep_backup=keep_backup if action == "destroy" else True)
    audit(customer.user, action, pair.name, address, "asked" + (" (backup kept)" if action == "destroy" and keep_backup
                                                                 else ""))
    if customer.may_rebuild if action == "rebuild" else customer.may_remove:
        approve(order, None, address)
    return order


def power(customer: Customer, name: str, action: str, address: str | None = None) -> Job:
    """Start or stop the customer's hosting machine: a job at once (the request never waits for xl)."""
    pair = _own_pair(customer, name)
    _refuse_busy(pair.name)
    job = Job.objects.create(customer=customer, action=action, name=pair.name, params={"wait": 0})
    audit(customer.user, action, pair.name, address, f"job {job.pk}")
    return job


def _own_pair(customer: Customer, name: str) -> Pair:
    from django.http import Http404

    pair = Pair.objects.filter(customer=customer, name=name).first()
    if pair is None:                     # another customer's pair is as unknown as a missing one
        raise Http404("no such pair")
    return pair


def _refuse_busy(name: str) -> None:
    busy = Job.objects.filter(name=name, state__in=("queued", "running")).first()
    if busy is not None:
        raise BadInput(f"{name} has a job {busy.state} ({busy.get_action_display()}): wait until it is finished")
    if Order.objects.filter(name=name, state="pending").exclude(action="create").exists():
        raise BadInput(f"{name} has an order waiting for an operator already")


def approve(order: Order, operator, address: str | None = None) -> Job:
    """The order becomes a job (once: a second approval is refused)."""
    if order.action == "create":
        _check_allowance(order.customer, order, "not approved")
    with transaction.atomic():
        if Order.objects.filter(pk=order.pk, state="pending").update(
                state="approved", decided_by=operator, decided=timezone.now()) != 1:
            raise BadInput(f"the order for {order.name} was decided already")
        start = settings.WEB.start
        params = {"customer": order.customer.pk, "ssh_keys": order.ssh_keys, "wait": 0 if start else None,
                  "start": start}
        if order.action == "create":
            params |= {"package": order.package, "external_ip": order.external_ip}
        elif order.action == "destroy":
            params["keep_backup"] = order.keep_backup
        job = Job.objects.create(order=order, customer=order.customer, action=order.action, name=order.name,
                                 params=params)
    audit(operator, "approve", order.name, address, f"{order.action}: job {job.pk}"
          + ("" if operator else " (allowed without an operator)"))
    order.refresh_from_db()
    return job


def reject(order: Order, operator, reason: str, address: str | None = None) -> None:
    with transaction.atomic():
        if Order.objects.filter(pk=order.pk, state="pending").update(
                state="rejected", decided_by=operator, decided=timezone.now()) != 1:
            raise BadInput(f"the order for {order.name} was decided already")
        if order.action == "create":
            Pair.objects.filter(name=order.name, customer=order.customer).delete()
    audit(operator, "reject", order.name, address, reason[:400])


def audit(user, action: str, target: str, address: str | None, result: str) -> None:
    AuditEvent.objects.create(who=user, actor=user.get_username() if user else "xenpair", action=action,
                              target=target, address=address, result=result)
