"""Account and address input/output shapes. No business rules here."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.accounts.models import Address, User
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


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "first_name", "last_name", "is_staff", "date_joined"]
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
