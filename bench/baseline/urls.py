"""Every path reaches the constant view, so a client can replay the product's URLs."""

from django.urls import re_path

from baseline.views import ConstantView

urlpatterns = [re_path(r"^.*$", ConstantView.as_view())]
