"""Every domain's models, imported in one place so the metadata (and Alembic) sees all tables."""

from caseapp.agencies.models import Agency, AgencyKindSections, Programme, ReferralSource, Region
from caseapp.auth.models import ApiToken, User, UserToken
from caseapp.cases.models import (
    Attachment,
    Case,
    CaseNumberCounter,
    HandoverJob,
    Intervention,
    Note,
    SlaSetting,
    Step,
)
from caseapp.core.audit import AccessLog, AuditEvent
from caseapp.core.models import Base
from caseapp.households.models import DesilRecord, Household, HouseholdKK, HousingSurvey, ImportJob, Person
from caseapp.notifications.models import Notification, NotificationDelivery, NotificationPreference
from caseapp.reports.models import PovertyLine, ReportSnapshot

__all__ = [
    "AccessLog",
    "Agency",
    "AgencyKindSections",
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "Base",
    "Case",
    "CaseNumberCounter",
    "DesilRecord",
    "HandoverJob",
    "Household",
    "HouseholdKK",
    "HousingSurvey",
    "ImportJob",
    "Intervention",
    "Note",
    "Notification",
    "NotificationDelivery",
    "NotificationPreference",
    "Person",
    "PovertyLine",
    "Programme",
    "ReferralSource",
    "Region",
    "ReportSnapshot",
    "SlaSetting",
    "Step",
    "User",
    "UserToken",
]
