"""The service's tables (one per file). Importing this package registers them all on `Base.metadata`."""

from service.models.api_key import ApiKey
from service.models.audit import Audit
from service.models.base import Base
from service.models.collision import Collision
from service.models.corpus import Corpus
from service.models.item_score import ItemScore
from service.models.result import Result
from service.models.run import Run
from service.models.tenant import Tenant
from service.models.unlearning_record import UnlearningRecordRow
from service.models.webhook import Webhook
from service.models.webhook_delivery import WebhookDelivery

__all__ = [
    "ApiKey",
    "Audit",
    "Base",
    "Collision",
    "Corpus",
    "ItemScore",
    "Result",
    "Run",
    "Tenant",
    "UnlearningRecordRow",
    "Webhook",
    "WebhookDelivery",
]
