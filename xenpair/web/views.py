"""The pages. Every view that shows or changes a customer's things looks them up through the
logged-in customer (another customer's id is a 404, never a 403 that confirms it exists); every
state change is a POST with Django's CSRF token; operators are staff users."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from xenpair.errors import BadInput
from xenpair.web import orders
from xenpair.web.models import Customer, Job, Order


def _customer(request) -> Customer | None:
    return Customer.objects.filter(user=request.user).first()


def _refused(request, e: BadInput) -> None:
    """The message on the page: what and where (the CLI's hint is for operators at a shell)."""
    messages.error(request, str(e).split("\n  what to do:")[0])


def _address(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


@login_required
def home(request):
    if request.user.is_staff:
        return redirect("operator")
    customer = _customer(request)
    if customer is None:
        raise Http404("no customer account")
    return render(request, "xenpair_web/home.html", {
        "customer": customer, "pairs": customer.pairs.order_by("name"),
        "orders": customer.orders.order_by("-created")[:20],
        "jobs": Job.objects.filter(order__customer=customer).order_by("-created")[:20]})


@login_required
@require_POST
def order(request):
    customer = _customer(request)
    if customer is None:
        raise Http404("no customer account")
    f = request.POST
    try:
        placed = orders.place(customer, f.get("name", "").strip(), f.get("package", "").strip(),
                              f.get("external_ip", "").strip() or None, f.get("ssh_keys", ""), _address(request))
    except BadInput as e:
        _refused(request, e)
        return redirect("home")
    messages.success(request, f"ordered {placed.name}" + (": approved, building" if placed.state == "approved"
                                                          else ": waiting for an operator"))
    return redirect("home")


@login_required
def job(request, pk: int):
    if request.user.is_staff:
        found = get_object_or_404(Job, pk=pk)
    else:
        found = get_object_or_404(Job, pk=pk, order__customer__user=request.user)
    return render(request, "xenpair_web/job.html", {"job": found})


@staff_member_required
def operator(request):
    return render(request, "xenpair_web/operator.html", {
        "pending": Order.objects.filter(state="pending").order_by("created"),
        "jobs": Job.objects.order_by("-created")[:50]})


@staff_member_required
@require_POST
def decide(request, pk: int, decision: str):
    if decision not in ("approve", "reject"):
        raise Http404("no such decision")
    pending = get_object_or_404(Order, pk=pk)
    try:
        if decision == "approve":
            orders.approve(pending, request.user, _address(request))
        else:
            orders.reject(pending, request.user, request.POST.get("reason", "rejected"), _address(request))
    except BadInput as e:
        _refused(request, e)
    return redirect("operator")
