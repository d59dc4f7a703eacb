"""A warm container's clients and credentials: one AssumeRole per role until shortly before expiry, one client
per (service, region, credentials), and every call still counted by the work item that made it."""

import threading

import pytest
from botocore.exceptions import ClientError

from fleet_sync.core import aws
from sandbox.moto_patches import install_sts_external_id_check

ROLE = "arn:aws:iam::111111111111:role/fleet"


@pytest.fixture()
def fresh(aws_session):
    aws.forget_credentials()
    yield
    aws.forget_credentials()


@pytest.fixture()
def aws_session(request):
    """The conftest's moto session (its fixture is named like the module under test)."""
    return request.getfixturevalue("aws")


def test_one_assume_role_per_role_while_the_credentials_last(fresh):
    first, second = aws.ApiCallCounter(), aws.ApiCallCounter()
    a = aws.assume_role(ROLE, session_name="drs-fleet-sync-tags", counter=first)
    b = aws.assume_role(ROLE, session_name="drs-fleet-sync-tags", counter=second)
    assert a == b and a.expires_at is not None
    assert first.as_dict() == {"AssumeRole": 1} and second.as_dict() == {}
    # another ExternalId or session name is another set of credentials
    aws.assume_role(ROLE, session_name="drs-fleet-sync-tags", external_id="other", counter=second)
    aws.assume_role(ROLE, session_name="drs-fleet-sync-inventory", counter=second)
    assert second.as_dict() == {"AssumeRole": 2}


def test_credentials_close_to_expiry_are_assumed_again(fresh, monkeypatch):
    counter = aws.ApiCallCounter()
    aws.assume_role(ROLE, session_name="tests", counter=counter)
    monkeypatch.setattr(aws, "REFRESH_BEFORE_EXPIRY_SECONDS", 3601)  # every credential is now close to expiry
    aws.assume_role(ROLE, session_name="tests", counter=counter)
    assert counter.as_dict() == {"AssumeRole": 2}


def test_concurrent_items_in_one_account_share_one_assume_role(fresh):
    counter = aws.ApiCallCounter()
    got = []
    threads = [
        threading.Thread(target=lambda: got.append(aws.assume_role(ROLE, session_name="tests", counter=counter)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(got)) == 1 and counter.as_dict() == {"AssumeRole": 1}


def test_a_refused_assume_role_is_asked_again(fresh):
    undo = install_sts_external_id_check()
    try:
        counter = aws.ApiCallCounter()
        for _ in range(2):
            with pytest.raises(ClientError):
                aws.assume_role("arn:aws:iam::111111111111:role/missing", session_name="tests", counter=counter)
        assert counter.as_dict() == {"AssumeRole": 2}
    finally:
        undo()


def test_one_client_per_service_region_and_credentials_each_item_counting_its_own_calls(fresh):
    creds = aws.assume_role(ROLE, session_name="tests")
    first, second = aws.ApiCallCounter(), aws.ApiCallCounter()
    one = aws.client("dynamodb", credentials=creds, region="us-east-1", counter=first)
    two = aws.client("dynamodb", credentials=creds, region="us-east-1", counter=second)
    assert one._client is two._client  # the same botocore client, seen through two counters
    assert aws.client("dynamodb", credentials=creds, region="eu-west-1") is not one._client
    one.list_tables()
    for _ in two.get_paginator("list_tables").paginate():
        pass
    two.list_tables()
    assert first.as_dict() == {"ListTables": 1} and second.as_dict() == {"ListTables": 2}
    one._client.list_tables()  # the client itself, called outside any item, counts nowhere
    assert first.total() + second.total() == 3


def test_table_objects_are_made_once_per_thread(fresh):
    assert aws.table("t") is aws.table("t")
    other: list = []
    t = threading.Thread(target=lambda: other.append(aws.table("t")))
    t.start()
    t.join()
    assert other[0] is not aws.table("t")
