"""Auth endpoints (register, JWT token pair, refresh, logout, me, password, password reset,
email verification and change, export and deletion of the account) and addresses."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.throttling import BaseThrottle
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)

from apps.accounts import selectors, services
from apps.accounts.models import Address
from apps.accounts.serializers import (
    AcceptedOutputSerializer,
    AccountDeleteInputSerializer,
    AccountExportOutputSerializer,
    AddressInputSerializer,
    AddressOutputSerializer,
    EmailChangeInputSerializer,
    EmailVerifyInputSerializer,
    PasswordChangeInputSerializer,
    PasswordResetConfirmInputSerializer,
    PasswordResetInputSerializer,
    RefreshInputSerializer,
    RegisterInputSerializer,
    TokenInputSerializer,
    TokenPairOutputSerializer,
    UserOutputSerializer,
    UserUpdateInputSerializer,
)
from utils.actors import request_user
from utils.errors import AuthenticationError
from utils.serializers import validated_input
from utils.throttling import ScopedRateThrottle

_PUBLIC_ACTIONS = {
    "register",
    "token",
    "token_refresh",
    "logout",
    "password_reset",
    "password_reset_confirm",
    "verify_email",
}
_THROTTLED_ACTIONS = {
    "register",
    "token",
    "token_refresh",
    "password_reset",
    "password_reset_confirm",
    "verify_email",
    "email",
}


class AuthViewSet(viewsets.GenericViewSet):
    """Registration and JWT session management."""

    throttle_scope = "auth"
    serializer_class = UserOutputSerializer
    delete_reads_body = True  # DELETE /auth/me/ takes the password (utils.schema documents it)

    def get_permissions(self) -> list[permissions.BasePermission]:
        if self.action in _PUBLIC_ACTIONS:
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_throttles(self) -> list[BaseThrottle]:
        throttles = super().get_throttles()
        deleting = self.action == "me" and self.request.method == "DELETE"
        if self.action in _THROTTLED_ACTIONS or deleting:  # password guesses are throttled
            throttles.append(ScopedRateThrottle())
        return throttles

    @extend_schema(request=RegisterInputSerializer, responses={201: UserOutputSerializer})
    @action(detail=False, methods=["post"])
    def register(self, request: Request) -> Response:
        data = validated_input(RegisterInputSerializer, request)
        user = services.user_register(**data)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TokenInputSerializer, responses={200: TokenPairOutputSerializer})
    @action(detail=False, methods=["post"])
    def token(self, request: Request) -> Response:
        data = validated_input(TokenInputSerializer, request)
        pair = TokenObtainPairSerializer(
            data={
                "email": data["email"].lower(),
                "password": data["password"],
            },
            context={"request": request},
        )
        pair.is_valid(raise_exception=True)
        return Response(pair.validated_data)

    @extend_schema(request=RefreshInputSerializer, responses={200: TokenPairOutputSerializer})
    @action(detail=False, methods=["post"], url_path="token/refresh")
    def token_refresh(self, request: Request) -> Response:
        data = validated_input(RefreshInputSerializer, request)
        refresh = TokenRefreshSerializer(data=data)
        try:
            refresh.is_valid(raise_exception=True)
        except TokenError as exc:
            raise AuthenticationError() from exc
        return Response(refresh.validated_data)

    @extend_schema(request=RefreshInputSerializer, responses={204: None})
    @action(detail=False, methods=["post"])
    def logout(self, request: Request) -> Response:
        data = validated_input(RefreshInputSerializer, request)
        services.user_logout(refresh=data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses={200: UserOutputSerializer}, request=None)
    @extend_schema(
        methods=["PATCH"], request=UserUpdateInputSerializer, responses={200: UserOutputSerializer}
    )
    @extend_schema(
        methods=["DELETE"],
        request=AccountDeleteInputSerializer,
        responses={204: None},
        description=(
            "Delete the account (the password confirms it). Orders stay as financial "
            "records with their personal data erased; addresses and carts are deleted; "
            "every token stops working."
        ),
    )
    @action(detail=False, methods=["get", "patch", "delete"])
    def me(self, request: Request) -> Response:
        user = request_user(request)
        if request.method == "DELETE":
            confirm = validated_input(AccountDeleteInputSerializer, request)
            services.user_delete(user=user, password=confirm["password"])
            return Response(status=status.HTTP_204_NO_CONTENT)
        if request.method == "PATCH":
            data = validated_input(UserUpdateInputSerializer, request, partial=True)
            user = services.user_update(user=user, data=data)
        return Response(UserOutputSerializer(user).data)

    @extend_schema(request=PasswordChangeInputSerializer, responses={204: None})
    @action(detail=False, methods=["post"])
    def password(self, request: Request) -> Response:
        data = validated_input(PasswordChangeInputSerializer, request)
        services.user_password_change(user=request_user(request), **data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: AccountExportOutputSerializer})
    @action(detail=False, methods=["get"], url_path="me/export")
    def me_export(self, request: Request) -> Response:
        export = selectors.user_export(user=request_user(request))
        return Response(AccountExportOutputSerializer(export).data)

    @extend_schema(
        request=PasswordResetInputSerializer,
        responses={202: AcceptedOutputSerializer},
        description=(
            "Always 202, whether or not the address has an account: if it has one, an email "
            "with a single-use link (uid and token) is sent."
        ),
    )
    @action(detail=False, methods=["post"], url_path="password-reset")
    def password_reset(self, request: Request) -> Response:
        data = validated_input(PasswordResetInputSerializer, request)
        services.password_reset_request(email=data["email"])
        body = {"detail": "If the address has an account, a reset link is on its way."}
        return Response(body, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=PasswordResetConfirmInputSerializer, responses={204: None})
    @action(detail=False, methods=["post"], url_path="password-reset/confirm")
    def password_reset_confirm(self, request: Request) -> Response:
        data = validated_input(PasswordResetConfirmInputSerializer, request)
        services.password_reset_confirm(**data)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=EmailVerifyInputSerializer, responses={200: UserOutputSerializer})
    @action(detail=False, methods=["post"], url_path="verify-email")
    def verify_email(self, request: Request) -> Response:
        data = validated_input(EmailVerifyInputSerializer, request)
        user = services.email_verify(token=data["token"])
        return Response(UserOutputSerializer(user).data)

    @extend_schema(
        request=EmailChangeInputSerializer,
        responses={202: UserOutputSerializer},
        description=(
            "Ask to change the address (the password confirms it). A verification link goes "
            "to the new address; the change takes effect when it is used."
        ),
    )
    @action(detail=False, methods=["post"], url_path="me/email")
    def email(self, request: Request) -> Response:
        data = validated_input(EmailChangeInputSerializer, request)
        user = services.email_change_request(user=request_user(request), **data)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_202_ACCEPTED)


class AddressViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The signed-in user's own addresses. Another user's address is a 404."""

    permission_classes = [permissions.IsAuthenticated]
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[Address]:
        if getattr(self, "swagger_fake_view", False):
            return Address.objects.none()
        return selectors.address_list_for_user(user=request_user(self.request))

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action in ("create", "update", "partial_update"):
            return AddressInputSerializer
        return AddressOutputSerializer

    @extend_schema(request=AddressInputSerializer, responses={201: AddressOutputSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = validated_input(AddressInputSerializer, request)
        address = services.address_create(user=request_user(request), data=data)
        return Response(AddressOutputSerializer(address).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AddressInputSerializer, responses={200: AddressOutputSerializer})
    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        address = self.get_object()
        data = validated_input(AddressInputSerializer, request, instance=address, partial=partial)
        address = services.address_update(address=address, data=data)
        return Response(AddressOutputSerializer(address).data)

    def perform_destroy(self, instance: Address) -> None:
        services.address_delete(address=instance)
