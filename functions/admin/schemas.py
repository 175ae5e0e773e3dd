"""Request and response bodies of the admin API (documented in /openapi.json)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from shared.config import LLM_PROVIDERS
from shared.faq_import import MAX_ALTERNATIVES
from shared.handoff.hours import BusinessHours
from shared.http.endpoints import RequestModel
from shared.languages import TEXT_SEARCH
from shared.privacy.detectors import KIND, pattern_error
from shared.web_address import web_address

T = TypeVar("T")
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
ShortText = Annotated[str, Field(min_length=1, max_length=1000)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    limit: int
    offset: int
    next_offset: int | None


class Ok(BaseModel):
    ok: bool = True


# ----- auth -------------------------------------------------------------------


class LoginRequest(RequestModel):
    username: Annotated[str, Field(min_length=1, max_length=100)]
    password: Annotated[str, Field(min_length=1, max_length=1000)]


class LoginResponse(BaseModel):
    token: str
    expires_at: datetime
    username: str
    role: str
    tenant_id: UUID | None


# ----- tenants ------------------------------------------------------------------


SLUG_HELP = (
    "Lower-case letters, digits and dashes; unique. Derived from the name when omitted"
    " (as for bots). Bucket keys map by it: <tenant-slug>/<bot-slug>/<path>."
)


class TenantCreate(RequestModel):
    name: Name
    slug: Annotated[Slug | None, Field(description=SLUG_HELP)] = None


class TenantUpdate(RequestModel):
    name: Name | None = None
    slug: Annotated[
        Slug | None,
        Field(
            description="A new slug (unique). Documents are then expected under the new"
            " bucket prefix; objects already indexed stay as they are."
        ),
    ] = None


class Tenant(BaseModel):
    id: UUID
    slug: str
    name: str
    created_at: datetime
    updated_at: datetime


# ----- bots ---------------------------------------------------------------------


def _web_address(value: str) -> str:
    """A link's pattern lets through what no client can follow ("http://[x", a port that is
    not a number): an http(s) address must parse and name a host (a mailto: link is left to
    its pattern)."""
    if not value.startswith("mailto:") and web_address(value) is None:
        raise ValueError(f"{value!r} is not a web address with a host")
    return value


class BotDisplay(RequestModel):
    title: Annotated[str, Field(max_length=100)] = ""
    greeting: Annotated[str, Field(max_length=1000)] = ""
    handoff_text: Annotated[str, Field(max_length=1000)] = ""
    starter_questions: Annotated[
        list[Annotated[str, Field(max_length=200)]], Field(max_length=6)
    ] = []
    primary_color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#2f6b4f"
    position: Literal["right", "left"] = "right"
    greeting_delay_seconds: Annotated[int, Field(ge=0, le=600)] | None = None
    contact_url: (
        Annotated[
            str,
            Field(max_length=500, pattern=r"^(https?://|mailto:)\S+$"),
            AfterValidator(_web_address),
        ]
        | None
    ) = None
    remember_conversation: Literal["off", "tab", "browser"] = Field(
        "tab",
        description="Where the widget keeps the conversation across page loads: 'tab'"
        " (sessionStorage, gone when the tab closes), 'browser' (localStorage, until the"
        " visitor deletes it), 'off' (nowhere: a reload starts afresh)",
    )


class PersonalDataPattern(RequestModel):
    kind: Annotated[
        str,
        Field(pattern=KIND.pattern, description="Its placeholder's name: CUSTOMER -> [CUSTOMER_1]"),
    ]
    pattern: Annotated[str, Field(min_length=1, max_length=200, description="A regular expression")]

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        problem = pattern_error(value)
        if problem:
            raise ValueError(problem)
        return value


def _six_places(value: float) -> float:
    return round(value, 6)


class BotSettings(RequestModel):
    """Every setting is optional: omitted ones keep their current value (or the default);
    null clears the ones that have a default (threshold, provider chain, limits...)."""

    not_null = frozenset(
        {
            "allowed_origins",
            "language",
            "instructions",
            "handoff_enabled",
            "withhold_personal_data",
            "personal_data_patterns",
            "currency",
            "paraphrase_faqs",
            "check_faq_matches",
        }
    )
    allowed_origins: Annotated[list[str], Field(max_length=50)] | None = None
    language: str | None = None
    instructions: Annotated[str, Field(max_length=4000)] | None = None
    llm_chain: list[str] | None = None
    llm_model: Annotated[str, Field(max_length=200)] | None = None
    # Stored as a real: a threshold finer than 1e-6 means nothing and would underflow it.
    faq_threshold: Annotated[float, Field(ge=0, le=1), AfterValidator(_six_places)] | None = None
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=10_000)] | None = None
    # A trillion tokens a day is no limit at all, and still fits the column (bigint).
    daily_token_budget: Annotated[int, Field(ge=0, le=10**12)] | None = None
    retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    display: BotDisplay | None = None
    handoff_enabled: bool | None = Field(
        None, description="Visitors may ask for a person (default on)"
    )
    business_hours: BusinessHours | None = Field(
        None, description="When a person may answer; null: at any time"
    )
    handoff_webhook_url: (
        Annotated[
            str,
            Field(max_length=500, pattern=r"^https?://\S+$"),
            AfterValidator(_web_address),
        ]
        | None
    ) = Field(None, description="POSTed a signed event when a visitor waits for a person")
    handoff_webhook_secret: Annotated[str, Field(min_length=16, max_length=200)] | None = Field(
        None, description="Signs that webhook (Parley-Signature); write-only, stored encrypted"
    )
    handoff_email: (
        Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None
    ) = Field(None, description="E-mailed when a visitor waits for a person")
    withhold_personal_data: bool | None = Field(
        None,
        description="Send remote LLM providers placeholders for the visitor's e-mail"
        " addresses, phone numbers, IBANs, card and order numbers (default on; turn off only"
        " for a self-hosted endpoint)",
    )
    personal_data_patterns: Annotated[list[PersonalDataPattern], Field(max_length=20)] | None = (
        Field(None, description="The bot's own kinds of personal data, withheld likewise")
    )
    paraphrase_faqs: bool | None = Field(
        None,
        description="Have the bot's LLM write more ways to ask each FAQ, matched like the"
        " alternatives (default on; only with an LLM in the bot's chain)",
    )
    check_faq_matches: bool | None = Field(
        None,
        description="Ask the bot's LLM which FAQ, if any, answers a question whose best FAQ"
        " match is just under the threshold (default on; only with an LLM in the bot's"
        " chain; one short call before such a question is answered)",
    )
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="ISO 4217 code the spending cap is in (default EUR)"
    )
    monthly_spend_cap: Annotated[float, Field(ge=0, le=10**9)] | None = Field(
        None,
        description="Most the bot may spend on LLM calls a calendar month (UTC), in its"
        " currency; then it answers extractively. null: no cap",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = []
        for origin in value:
            parts = urlsplit(origin.strip())
            if (
                parts.scheme not in ("http", "https")
                or not parts.hostname
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
            ):
                raise ValueError(f"{origin!r} is not an origin like https://shop.example")
            cleaned.append(f"{parts.scheme}://{parts.netloc.lower()}")
        return sorted(set(cleaned))

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        if value is not None and value not in TEXT_SEARCH:
            raise ValueError(f"unsupported language; one of {', '.join(sorted(TEXT_SEARCH))}")
        return value

    @field_validator("llm_chain")
    @classmethod
    def _chain(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for name in value:
            if name not in LLM_PROVIDERS:
                raise ValueError(f"unknown provider {name!r}")
        if len(set(value)) != len(value):
            raise ValueError("names a provider twice")
        return value

    def changes(self, *, whole_display: bool = False) -> dict[str, Any]:
        """The settings the caller sent. ``display`` holds only the fields sent (merged into
        the stored display on update), or every field with defaults (on create)."""
        values = self.model_dump(exclude_unset=True)
        if "display" in values and self.display is not None:
            values["display"] = self.display.model_dump(exclude_unset=not whole_display)
        return values


class BotCreate(BotSettings):
    tenant_id: UUID
    name: Name
    slug: Annotated[
        Slug | None,
        Field(description="Unique in the tenant; derived from the name when omitted."),
    ] = None


class BotUpdate(BotSettings):
    not_null = BotSettings.not_null | {"name"}
    name: Name | None = None


class Bot(BaseModel):
    id: UUID
    tenant_id: UUID
    slug: str
    name: str
    allowed_origins: list[str]
    language: str
    instructions: str
    llm_chain: list[str] | None
    llm_model: str | None
    faq_threshold: float | None
    # What the bot is held to without a threshold of its own: its model's, for as many
    # phrasings as its enabled FAQs have on average (``phrasings_per_faq``).
    default_faq_threshold: float
    phrasings_per_faq: float | None
    rate_limit_per_minute: int | None
    daily_token_budget: int | None
    retention_days: int | None
    display: dict[str, Any]
    kb_version: int
    created_at: datetime
    updated_at: datetime
    handoff_enabled: bool
    business_hours: dict[str, Any] | None
    handoff_webhook_url: str | None
    handoff_webhook_secret_set: bool = False
    handoff_email: str | None
    withhold_personal_data: bool
    personal_data_patterns: list[dict[str, str]]
    currency: str
    monthly_spend_cap: float | None
    paraphrase_faqs: bool
    check_faq_matches: bool

    @model_validator(mode="before")
    @classmethod
    def _secret_set(cls, data: Any) -> Any:
        """The webhook secret is never returned: only whether one is set."""
        if isinstance(data, dict) and "handoff_webhook_secret_enc" in data:
            data = {**data, "handoff_webhook_secret_set": bool(data["handoff_webhook_secret_enc"])}
        return data


def slugify(name: str, fallback: str) -> str:
    """A slug from a display name: "Fernwood Outfitters" -> "fernwood-outfitters"."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].rstrip("-")
    return slug or fallback


# ----- FAQs ---------------------------------------------------------------------

Alternatives = Annotated[list[ShortText], Field(max_length=MAX_ALTERNATIVES)]


class FaqCreate(RequestModel):
    question: ShortText
    alternatives: Alternatives = []
    answer: Annotated[str, Field(min_length=1, max_length=10_000)]
    enabled: bool = True


class FaqUpdate(RequestModel):
    not_null = frozenset({"question", "alternatives", "answer", "enabled"})
    question: ShortText | None = None
    alternatives: Alternatives | None = None
    generated_alternatives: Alternatives | None = Field(
        None,
        description="The paraphrases the bot's LLM wrote, as the owner keeps them (send fewer"
        " to remove some, [] to remove all for good; null: have them written again)",
    )
    answer: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None
    enabled: bool | None = None


class Faq(BaseModel):
    id: UUID
    bot_id: UUID
    question: str
    alternatives: list[str]
    generated_alternatives: list[str] | None = Field(
        description="Paraphrases of the question written by the bot's LLM, matched like the"
        " alternatives; null until written (only when an LLM is configured)"
    )
    answer: str
    enabled: bool
    hits: int
    created_at: datetime
    updated_at: datetime


class ImportResult(BaseModel):
    imported: int


# ----- API keys -----------------------------------------------------------------


class ApiKeyCreate(RequestModel):
    tenant_id: UUID
    kind: Literal["publishable", "secret"]
    bot_id: UUID | None = None
    role: Literal["guest", "saas_user", "admin"] | None = None
    name: Annotated[str, Field(max_length=100)] = ""
    expires_at: datetime | None = None


class ApiKey(BaseModel):
    id: UUID
    tenant_id: UUID
    bot_id: UUID | None
    kind: str
    role: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The full key. Shown once; only its hash is stored.")


# ----- users --------------------------------------------------------------------


class UserCreate(RequestModel):
    username: Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[\w.@+-]+$")]
    password: Annotated[str, Field(min_length=10, max_length=1000)]
    role: Literal["admin", "saas_user"]
    tenant_id: UUID | None = None


class UserUpdate(RequestModel):
    password: Annotated[str, Field(min_length=10, max_length=1000)] | None = None
    disabled: bool | None = None


class User(BaseModel):
    id: UUID
    username: str
    role: str
    tenant_id: UUID | None
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


# ----- conversations and analytics -------------------------------------------------


class Conversation(BaseModel):
    id: UUID
    bot_id: UUID
    visitor_id: str
    channel: str
    message_count: int
    started_at: datetime
    last_message_at: datetime
    state: Literal["bot", "waiting", "human", "closed"] = "bot"
    assigned_name: str | None = None


class Message(BaseModel):
    id: UUID
    role: Literal["user", "assistant", "operator"]
    text: str
    operator: str | None = Field(None, description="Who wrote an operator message")
    source: str | None
    faq_id: UUID | None
    matched_question: str | None
    confidence: float | None
    provider: str | None
    model: str | None
    latency_ms: int | None
    ttft_ms: int | None
    tokens_in: int
    tokens_out: int
    cost_usd: float
    feedback: int | None
    sources: list[dict[str, Any]]
    why: dict[str, Any] | None = Field(
        None,
        description="What decided the answer's source: rule (faq_above_threshold,"
        " faq_grey_zone, faq_checked, faq_answer_agrees, documents, no_answer, answer_cache,"
        " spending_cap), faq_confidence, threshold, threshold_from (bot or default),"
        " closest_passage, checked_by, faq_check, faq_lacks, answer_similarity, suggested,"
        " offered_for_answer",
    )
    created_at: datetime


class InboxItem(BaseModel):
    id: UUID
    tenant_id: UUID
    bot_id: UUID
    bot_name: str
    state: Literal["waiting", "human"]
    waiting_since: datetime | None
    waiting_seconds: int | None
    assigned_user_id: UUID | None
    assigned_name: str | None
    visitor_name: str | None
    contact: str | None
    message_count: int
    last_message_at: datetime
    started_at: datetime


class Inbox(BaseModel):
    items: list[InboxItem]


OperatorName = Annotated[str, Field(min_length=1, max_length=100)]


class OperatorTake(RequestModel):
    operator: OperatorName | None = Field(None, description="The name the visitor sees")


class OperatorReply(RequestModel):
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    operator: OperatorName | None = Field(None, description="The name the visitor sees")


class OperatorMessage(BaseModel):
    conversation_id: UUID
    message_id: UUID
    operator: str
    created_at: datetime


class StateChange(BaseModel):
    conversation_id: UUID
    state: Literal["bot", "waiting", "human", "closed"]


class Transcript(Conversation):
    messages: list[Message]


class QuestionCount(BaseModel):
    question: str
    count: int


class Analytics(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    conversations: int
    messages: int
    answers: int
    sources: dict[str, int]
    shares: dict[str, float]
    latency_ms: dict[str, float | None]
    providers: list[dict[str, Any]]
    feedback: dict[str, int]
    offers: dict[str, int] = Field(
        description="made: handoff texts that offered FAQs the visitor may have meant; taken:"
        " those after which the visitor's next message was answered from an offered FAQ"
    )
    top_questions: list[QuestionCount]
    # Per UTC day with messages: answers (and by source), tokens, cost_usd, feedback.
    daily: list[dict[str, Any]]
    spend: MonthSpending


class MonthSpending(BaseModel):
    """This calendar month (UTC), whatever the period asked for."""

    currency: str
    spent: float
    cap: float | None = Field(description="The bot's monthly_spend_cap; null: none")
    share: float | None = Field(description="spent / cap")
    capped: bool = Field(description="At the cap: the bot answers without an LLM")


class Unanswered(BaseModel):
    items: list[QuestionCount]


# ----- match preview --------------------------------------------------------------


class PreviewRequest(RequestModel):
    question: ShortText


class PreviewCandidate(BaseModel):
    faq_id: UUID
    question: str
    answer: str
    score: float


class PreviewPassage(BaseModel):
    title: str
    document_id: UUID
    similarity: float


class PreviewAnswerOffer(BaseModel):
    question: str
    answer_similarity: float


class Preview(BaseModel):
    decision: Literal["faq", "documents", "not_answered"]
    confidence: float
    threshold: float
    faq: PreviewCandidate | None
    lacking: list[str] = Field(
        default_factory=list,
        description="The question's words (stemmed) that no FAQ holds and a passage does:"
        " a match above the threshold, short of sure, gives way to the documents for them",
    )
    answer_similarity: float | None = Field(
        None,
        description="Nothing else would answer, and the best FAQ's answer is also the nearest"
        " of the candidates' answers to the question, at this cosine: that FAQ answers",
    )
    llm_check: bool = Field(
        False,
        description="The match is in the grey zone and the bot's LLM would be asked which"
        " candidate answers (the decision is the offline rule's)",
    )
    suggested: list[str] = Field(
        default_factory=list,
        description="Not answered: the FAQ questions the visitor would be offered with the"
        " handoff text",
    )
    offered_for_answer: PreviewAnswerOffer | None = Field(
        None,
        description="Not answered: the FAQ offered only because its answer is the nearest of"
        " the candidates' answers to the question (its phrasings alone would not offer it),"
        " and that answer's cosine",
    )
    candidates: list[PreviewCandidate]
    passages: list[PreviewPassage]
