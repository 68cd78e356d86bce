"""Factories for the rooms domain (factory_boy)."""

from __future__ import annotations

import factory
from django.contrib.auth.hashers import make_password

from rooms.models import Agreement, Member, Membership, Room


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"room-{n}")
    title = factory.Sequence(lambda n: f"Room {n}")
    description = "A place to talk."

    @factory.post_generation
    def agreement(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create:
            Agreement.objects.create(room=self, version=1, text=extracted or "Be kind.")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member

    recovery_lookup = factory.Sequence(lambda n: f"word{n} word word")
    recovery_hash = factory.LazyFunction(lambda: make_password("secret words here"))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    room = factory.SubFactory(RoomFactory)
    member = factory.SubFactory(MemberFactory)
    pseudonym = factory.Sequence(lambda n: f"Calm Heron {n}")
    agreement_version = 1
