"""Account and address input/output shapes. No business rules here."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import Address, User
from apps.orders.serializers import OrderOutputSerializer
from utils.serializers import CountryField, InputSerializer, StrictInputMixin


class RegisterInputSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class TokenInputSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, max_length=128, trim_whitespace=False)


class TokenPairOutputSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInputSerializer(InputSerializer):
    refresh = serializers.CharField(max_length=2048)


class PasswordChangeInputSerializer(InputSerializer):
    current_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class _PendingEmailField(serializers.EmailField):
    """The address waiting for its verification, or null (none is pending)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, allow_null=True, **kwargs)

    def to_representation(self, value: Any) -> Any:
        return value or None


# The first fields of both the account's own view and its export.
_USER_NAME_FIELDS = ["id", "email", "first_name", "last_name"]


class UserOutputSerializer(serializers.ModelSerializer):
    email_verified = serializers.SerializerMethodField()
    pending_email = _PendingEmailField()

    class Meta:
        model = User
        fields = [*_USER_NAME_FIELDS, "is_staff", "date_joined", "email_verified", "pending_email"]
        read_only_fields = fields

    def get_email_verified(self, user: User) -> bool:
        return user.email_verified_at is not None


class PasswordResetInputSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInputSerializer(InputSerializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class EmailVerifyInputSerializer(InputSerializer):
    token = serializers.CharField(max_length=512)


class EmailChangeInputSerializer(InputSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class AccountDeleteInputSerializer(InputSerializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class AcceptedOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()


class AccountExportAccountSerializer(serializers.ModelSerializer):
    pending_email = _PendingEmailField()

    class Meta:
        model = User
        fields = [
            *_USER_NAME_FIELDS,
            "date_joined",
            "last_login",
            "email_verified_at",
            "pending_email",
        ]
        read_only_fields = fields


class UserUpdateInputSerializer(InputSerializer):
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)


class AddressOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Address
        fields = [
            "id",
            "name",
            "line1",
            "line2",
            "city",
            "postal_code",
            "country",
            "phone",
            "is_default",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AddressInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    country = CountryField()

    class Meta:
        model = Address
        fields = ["name", "line1", "line2", "city", "postal_code", "country", "phone", "is_default"]

    def to_representation(self, instance: Any) -> Any:
        return AddressOutputSerializer(instance).data


class AccountExportOutputSerializer(serializers.Serializer):
    """Everything the shop keeps about the account, as JSON (the right of access)."""

    exported_at = serializers.DateTimeField()
    account = AccountExportAccountSerializer()
    addresses = AddressOutputSerializer(many=True)
    orders = OrderOutputSerializer(many=True)
