"""Factories for the rooms domain (factory_boy)."""

from __future__ import annotations

import factory
from django.conf import settings
from django.contrib.auth.hashers import make_password

from chatserver.crypto import recovery_lookup_digest
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

    recovery_lookup = factory.Sequence(
        lambda n: recovery_lookup_digest(f"word{n} word word", server_secret=settings.SECRET_KEY)
    )
    recovery_hash = factory.LazyFunction(lambda: make_password("secret words here"))


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    room = factory.SubFactory(RoomFactory)
    member = factory.SubFactory(MemberFactory)
    pseudonym = factory.Sequence(lambda n: f"Calm Heron {n}")
    agreement_version = 1


def staff_membership(
    room: Room, *, role: str = "facilitator", pseudonym: str | None = None, trained: bool = True
) -> Membership:
    """A staff user in the role's group, in ``room`` with that role. A facilitator gets a
    current training record unless ``trained`` is False (they could not facilitate)."""
    import datetime as dt

    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from moderation.models import TrainingRecord

    count = User.objects.count()
    user = User.objects.create_user(username=f"{role}-{count}", password="long enough password")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    if trained and role == "facilitator":
        today = timezone.localdate()
        TrainingRecord.objects.create(
            user=user,
            course=settings.FACILITATOR_TRAINING_COURSE,
            completed_on=today - dt.timedelta(days=30),
            expires_on=today + dt.timedelta(days=335),
        )
    name = pseudonym or f"{role.title()} {count}"
    give_staff_name(user, name)
    return MembershipFactory(room=room, member=None, user=user, role=role, pseudonym=name)


def give_staff_name(user: object, name: str) -> None:
    """The name a staff account goes by in rooms, as if they had chosen it (unchecked, so
    tests may use plain names like "Facilitator 3")."""
    from django.utils import timezone

    from rooms.models import StaffName
    from rooms.staffnames import skeleton

    StaffName.objects.create(
        user=user, name=name, skeleton=skeleton(name), chosen_at=timezone.now()
    )
