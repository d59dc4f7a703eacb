"""The AWS opt-in regions: regions an account must enable before any call there is answered.

Source: AWS's Regions page, https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
(column "Opt-in status": "Required"; every commercial region AWS launched after 20 March 2019 is opt-in).
botocore's partition data (``botocore/data/partitions.json``, ``endpoints.json``) lists the regions but says
nothing about opt-in, so the list is written out here; tests/sandbox/test_fleet.py checks that each is one of
botocore's DRS regions. In a region the account has not enabled, DRS answers every call with 403
``UnrecognizedClientException``, EC2 with 401 ``AuthFailure`` and STS, asked there for one of the account's
roles, with 403 ``RegionDisabledException`` (the simulator's ``disabledRegions`` behaviour).
"""

from __future__ import annotations

__all__ = ["OPT_IN_REGIONS"]

OPT_IN_REGIONS = frozenset(
    {
        "af-south-1",  # Africa (Cape Town)
        "ap-east-1",  # Asia Pacific (Hong Kong)
        "ap-east-2",  # Asia Pacific (Taipei)
        "ap-south-2",  # Asia Pacific (Hyderabad)
        "ap-southeast-3",  # Asia Pacific (Jakarta)
        "ap-southeast-4",  # Asia Pacific (Melbourne)
        "ap-southeast-5",  # Asia Pacific (Malaysia)
        "ap-southeast-6",  # Asia Pacific (New Zealand)
        "ap-southeast-7",  # Asia Pacific (Thailand)
        "ca-west-1",  # Canada West (Calgary)
        "eu-central-2",  # Europe (Zurich)
        "eu-south-1",  # Europe (Milan)
        "eu-south-2",  # Europe (Spain)
        "il-central-1",  # Israel (Tel Aviv)
        "me-central-1",  # Middle East (UAE)
        "me-south-1",  # Middle East (Bahrain)
        "mx-central-1",  # Mexico (Central)
    }
)
