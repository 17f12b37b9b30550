"""The caller, normalised once at the view; staff-only object actions refused by permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotAuthenticated
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from apps.accounts.models import User
from apps.orders.models import OrderEvent
from apps.orders.transitions import actor_kind
from utils.actors import request_actor, request_user
from utils.permissions import StaffOnObject


def _request(user: object) -> object:
    request = APIRequestFactory().get("/")
    force_authenticate(request, user=user)  # type: ignore[arg-type]
    return APIView().initialize_request(request)


@pytest.mark.django_db
def test_request_actor_is_the_signed_in_user_or_none() -> None:
    user = User.objects.create_user(email="a@example.com", password="x")
    assert request_actor(_request(user)) == user  # type: ignore[arg-type]
    assert request_actor(_request(AnonymousUser())) is None  # type: ignore[arg-type]
    assert request_user(_request(user)) == user  # type: ignore[arg-type]
    with pytest.raises(NotAuthenticated):
        request_user(_request(AnonymousUser()))  # type: ignore[arg-type]


def test_actor_kind_names_staff_and_customers_guests_included() -> None:
    assert actor_kind(User(email="s@example.com", is_staff=True)) == OrderEvent.ActorKind.STAFF
    assert actor_kind(User(email="c@example.com")) == OrderEvent.ActorKind.CUSTOMER
    assert actor_kind(None) == OrderEvent.ActorKind.CUSTOMER


def test_staff_on_object_lets_customers_reach_the_lookup_and_refuses_them_the_object() -> None:
    permission = StaffOnObject()
    customer = _request(User(email="c@example.com"))
    staff = _request(User(email="s@example.com", is_staff=True))
    anonymous = _request(AnonymousUser())
    assert permission.has_permission(customer, None)  # type: ignore[arg-type]
    assert not permission.has_permission(anonymous, None)  # type: ignore[arg-type]
    assert not permission.has_object_permission(customer, None, object())  # type: ignore[arg-type]
    assert permission.has_object_permission(staff, None, object())  # type: ignore[arg-type]
