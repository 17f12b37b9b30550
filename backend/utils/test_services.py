"""model_update: only what changed is set, validated and named for the save."""

from __future__ import annotations

import pytest

from apps.catalog.factories import make_category
from apps.catalog.models import Category
from utils.errors import ValidationError
from utils.services import model_update

pytestmark = pytest.mark.django_db


def test_only_changed_fields_are_set_and_returned_with_updated_at() -> None:
    category = make_category("shoes")
    same, changed = model_update(
        instance=category, fields=("name", "slug", "position"), data={"name": category.name}
    )
    assert changed == []
    assert same is category

    _, changed = model_update(
        instance=category,
        fields=("name", "slug", "position"),
        data={"name": "Boots", "slug": "shoes", "description": "not in fields"},
    )
    assert changed == ["name", "updated_at"]
    assert category.name == "Boots"
    assert category.description == ""  # not one of the fields: left alone
    category.save(update_fields=changed)
    assert Category.objects.get(pk=category.pk).name == "Boots"


def test_a_value_the_model_refuses_is_a_validation_error_on_that_field() -> None:
    category = make_category("hats")
    with pytest.raises(ValidationError) as caught:
        model_update(instance=category, fields=("name",), data={"name": "x" * 500})
    assert "name" in caught.value.details
    assert Category.objects.get(pk=category.pk).name != "x" * 500
