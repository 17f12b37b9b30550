"""Permission classes the apps share. A staff-only action is refused here, by the view,
never by a 403 built inside a service."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request


def is_staff(request: Request) -> bool:
    return bool(getattr(request.user, "is_staff", False))


class PublicReadStaffWrite(permissions.BasePermission):
    """Anyone may read; only staff may write."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return permissions.IsAdminUser().has_permission(request, view)


class StaffOnObject(permissions.IsAuthenticated):
    """A staff action on one object, checked once the view has found the object.

    The view looks the object up with the caller's access rule first, so someone
    else's object stays a 404 (never a 403); a signed-in caller who may see the object
    but is not staff gets the 403 from ``check_object_permissions``.
    """

    message = "Only staff can do this."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return is_staff(request)
