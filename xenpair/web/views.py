"""The pages. Every view that shows or changes a customer's things looks them up through the
logged-in customer (another customer's id or pair name is a 404, never a 403 that confirms it
exists); every state change is a POST with Django's CSRF token; operators are staff users."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from xenpair.errors import BadInput
from xenpair.web import orders, pairs
from xenpair.web.models import Customer, Job, Order


def _customer(request) -> Customer:
    found = Customer.objects.filter(user=request.user).first()
    if found is None:
        raise Http404("no customer account")
    return found


def _refused(request, e: BadInput) -> None:
    """The message on the page: what and where (the CLI's hint is for operators at a shell)."""
    messages.error(request, str(e).split("\n  what to do:")[0])


def _address(request) -> str | None:
    from xenpair.web.client import client_address

    return client_address(request)


@login_required
def home(request):
    if request.user.is_staff:
        return redirect("operator")
    return _home(request, _customer(request))


def _home(request, customer: Customer, form=None, status: int = 200):
    return render(request, "xenpair_web/home.html", {
        "customer": customer, "pairs": pairs.for_customer(customer), "packages": pairs.packages(customer),
        "orders": customer.orders.order_by("-created")[:20], "form": form,
        "jobs": customer.jobs.order_by("-created")[:20]}, status=status)


@login_required
@require_POST
def order(request):
    customer = _customer(request)
    f = request.POST
    try:
        placed = orders.place(customer, f.get("name", "").strip(), f.get("package", "").strip(),
                              f.get("external_ip", "").strip() or None, f.get("ssh_keys", ""), _address(request))
    except BadInput as e:
        _refused(request, e)
        return _home(request, customer, form=f, status=400)
    if placed.state == "approved":
        messages.success(request, f"ordered {placed.name}: approved, building")
        return redirect("job", placed.job.pk)
    messages.success(request, f"ordered {placed.name}: waiting for an operator")
    return redirect("home")


@login_required
def pair(request, name: str):
    customer = None if request.user.is_staff else _customer(request)
    view = pairs.one(customer, name)
    if view is None:
        raise Http404("no such pair")
    jobs = Job.objects.filter(name=name).order_by("-created")[:10]
    return render(request, "xenpair_web/pair.html", {
        "pair": view, "jobs": jobs, "customer": customer,
        "machines": [("hosting", view["hosting"]), ("backup", view["backup"])]})


@login_required
@require_POST
def act(request, name: str, action: str):
    """start, stop (a job at once), rebuild, remove (an order; approved at once when the
    customer's allowance says so)."""
    if action not in ("start", "stop", "rebuild", "remove"):
        raise Http404("no such action")
    customer = _customer(request)
    try:
        if action in ("start", "stop"):
            job = orders.power(customer, name, action, _address(request))
            return redirect("job", job.pk)
        placed = orders.change(customer, name, "destroy" if action == "remove" else action,
                               keep_backup=request.POST.get("delete_backup") != "yes", address=_address(request))
    except BadInput as e:
        _refused(request, e)
        return redirect("pair", name)
    if placed.state == "approved":
        return redirect("job", placed.job.pk)
    messages.success(request, f"{placed.get_action_display()} of {name}: waiting for an operator")
    return redirect("pair", name)


def _job_for(request, pk: int) -> Job:
    if request.user.is_staff:
        return get_object_or_404(Job, pk=pk)
    return get_object_or_404(Job, pk=pk, customer__user=request.user)


@login_required
def job(request, pk: int):
    found = _job_for(request, pk)
    return render(request, "xenpair_web/job.html", {"job": found, "outcome": _outcome(found)})


@login_required
def job_status(request, pk: int):
    """What the job page polls while the job runs: its state, the log from OFFSET on, the outcome."""
    found = _job_for(request, pk)
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    return JsonResponse({"state": found.state, "log": found.log[offset:], "offset": len(found.log),
                         "outcome": _outcome(found)}, headers={"Cache-Control": "no-store"})


def _outcome(job: Job) -> str:
    """queued, running, ready (built or started, and every machine it waited for answered SSH
    with the recorded host keys), done (nothing to wait for) or failed."""
    if job.state != "done":
        return job.state
    ready = (job.result or {}).get("ready") or {}
    return "ready" if ready and all(r.get("ok") for r in ready.values()) else "done"


@staff_member_required
def operator(request):
    return render(request, "xenpair_web/operator.html", {
        "pending": Order.objects.filter(state="pending").select_related("customer__user").order_by("created"),
        "jobs": Job.objects.select_related("customer__user").order_by("-created")[:50],
        "pairs": pairs.every()})


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
