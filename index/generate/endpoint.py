"""Any OpenAI-compatible chat endpoint (Ollama, vLLM, llama.cpp's server, a cloud API): settings and a streaming client.

Configuration is data: ``LLMSettings`` is a frozen dataclass the edges (CLI, app) make, from flags and the
``CITELENS_LLM_*`` variables through ``LLMSettings.from_env``; nothing below reads the environment itself. The
key is never shown: it is left out of ``repr``, of ``to_json`` and of every error message (a message that
would hold it, such as a server's error body echoing it, has it replaced by ``***``).

Every failure is one ``LLMError`` with a one-line message for the person who configured the endpoint:
``NoEndpoint``, ``EndpointUnreachable``, ``ModelUnknown``, ``EndpointTimeout``, ``AuthRefused``, and
``EndpointFailed`` for anything else the server answers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

ENV_URL = "CITELENS_LLM_URL"
ENV_MODEL = "CITELENS_LLM_MODEL"
ENV_KEY = "CITELENS_LLM_KEY"
# Sent as the key to a server that needs none (llama.cpp, Ollama, vLLM without --api-key): the client must send
# some key, and it must never fall back to a key of the environment meant for another service.
NO_KEY = "no-key"


class LLMError(Exception):
    """A language-model endpoint problem, said in one line (never holding the key)."""


class NoEndpoint(LLMError):
    pass


class EndpointUnreachable(LLMError):
    pass


class ModelUnknown(LLMError):
    pass


class EndpointTimeout(LLMError):
    pass


class AuthRefused(LLMError):
    pass


class EndpointFailed(LLMError):
    pass


@dataclass(frozen=True)
class LLMSettings:
    url: str  # the OpenAI-compatible base URL, e.g. http://localhost:11434/v1
    model: str  # the model name as the server knows it
    key: str = field(default="", repr=False)  # the API key ("" for servers that need none); never shown
    timeout: float = 120.0  # seconds: connecting, and between two streamed pieces
    temperature: float = 0.0
    max_tokens: int = 512

    def __post_init__(self):
        if not isinstance(self.url, str) or urlsplit(self.url).scheme not in ("http", "https"):
            raise NoEndpoint(f"The language-model URL must start with http:// or https:// (got {self.url!r}).")
        if not urlsplit(self.url).hostname:
            raise NoEndpoint(f"The language-model URL names no host (got {self.url!r}).")
        if not isinstance(self.model, str) or not self.model.strip():
            raise NoEndpoint(f"No language model named for {self.url}: give --model or set ${ENV_MODEL}.")
        if not self.timeout > 0:
            raise NoEndpoint(f"The language-model timeout must be positive (got {self.timeout}).")
        if self.max_tokens < 1:
            raise NoEndpoint(f"max_tokens must be at least 1 (got {self.max_tokens}).")

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        url: str | None = None,
        model: str | None = None,
        key: str | None = None,
        **options,
    ) -> LLMSettings | None:
        """Flags first, then ``CITELENS_LLM_URL``/``_MODEL``/``_KEY`` of ``environ``; None when no endpoint is set
        at all (the offline extractive answer stays). For the edges only: the library takes the settings made here.
        """
        url = (url or environ.get(ENV_URL) or "").strip()
        model = (model or environ.get(ENV_MODEL) or "").strip()
        key = key if key is not None else environ.get(ENV_KEY, "")
        if not url:
            if model:
                raise NoEndpoint(f"A language model is named ({model}) but no endpoint: give --llm-url or ${ENV_URL}.")
            return None
        return cls(url=url.rstrip("/"), model=model, key=(key or "").strip(), **options)

    def to_json(self) -> dict:
        """What may be shown or logged: everything but the key (only whether one is set)."""
        return {
            "url": self.url,
            "model": self.model,
            "key_set": bool(self.key),
            "timeout": self.timeout,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    def scrub(self, text: str) -> str:
        """``text`` with the key (if any) replaced by ``***``; and on one line."""
        if self.key:
            text = text.replace(self.key, "***")
        return " ".join(str(text).split())


def require(settings: LLMSettings | None) -> LLMSettings:
    """The settings, or the one-line error that says how to configure an endpoint."""
    if settings is None:
        raise NoEndpoint(
            f"No language-model endpoint configured: give --llm-url URL --model NAME, or set ${ENV_URL} and "
            f"${ENV_MODEL} (e.g. http://localhost:11434/v1 for Ollama)."
        )
    return settings


Message = Mapping[str, str]


class ChatClient:
    """A streaming chat client for one endpoint. The model is checked against the server's model list once,
    just before the first chat request (so a question that is never sent costs no request at all)."""

    def __init__(self, settings: LLMSettings):
        self.settings = settings
        self._model_checked = False

    def __repr__(self) -> str:
        return f"ChatClient({self.settings!r})"

    @functools.cached_property
    def _client(self):
        from openai import OpenAI

        s = self.settings
        # Every value given explicitly: the client would otherwise read OPENAI_API_KEY/OPENAI_BASE_URL from the
        # environment, and send a key meant for another service to this endpoint.
        return OpenAI(base_url=s.url, api_key=s.key or NO_KEY, timeout=s.timeout, max_retries=0)

    def check_model(self) -> None:
        """ModelUnknown when the server lists its models and this one is not among them (a server without a
        model list, or one that lists none, is trusted: its chat answer says what is wrong)."""
        if self._model_checked:
            return
        import openai

        try:
            served = [model.id for model in self._client.models.list()]
        except (openai.NotFoundError, openai.BadRequestError, openai.UnprocessableEntityError):
            served = []  # no /models here: the chat request tells
        except openai.OpenAIError as error:
            raise self.error(error) from None
        if served and not any(_same_model(self.settings.model, name) for name in served):
            shown = ", ".join(served[:8]) + (" …" if len(served) > 8 else "")
            raise ModelUnknown(
                self.settings.scrub(
                    f"The server at {self.settings.url} has no model {self.settings.model!r} (it serves: {shown})."
                )
            )
        self._model_checked = True

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """The answer's text, piece by piece as the server writes it."""
        import openai

        self.check_model()
        s = self.settings
        try:
            chunks = self._client.chat.completions.create(
                model=s.model,
                messages=[dict(message) for message in messages],
                temperature=s.temperature,
                max_tokens=s.max_tokens,
                stream=True,
            )
            with chunks:
                for chunk in chunks:
                    for choice in chunk.choices or ():
                        piece = getattr(choice.delta, "content", None) if choice.delta else None
                        if piece:
                            yield piece
        except openai.OpenAIError as error:
            raise self.error(error) from None

    def complete(self, messages: Sequence[Message]) -> str:
        return "".join(self.stream(messages))

    def error(self, error: Exception) -> LLMError:
        """The client's exception as one clear line, without the key."""
        import openai

        s = self.settings
        where = f"The language-model endpoint {s.url}"
        if isinstance(error, openai.APITimeoutError):
            kind, text = EndpointTimeout, f"{where} did not answer within {s.timeout:g} s (timeout)."
        elif isinstance(error, openai.APIConnectionError):
            kind = EndpointUnreachable
            text = f"Cannot reach the language-model endpoint {s.url}: {_cause(error)}. Is the server running?"
        elif isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            state = "the key given" if s.key else "no key (set $" + ENV_KEY + ")"
            kind, text = AuthRefused, f"{where} refused the request ({error.status_code}) with {state}."
        elif isinstance(error, openai.NotFoundError):
            kind = ModelUnknown
            text = f"{where} does not know model {s.model!r} or has no chat API there (404: {_detail(error)})."
        elif isinstance(error, openai.APIStatusError):
            kind, text = EndpointFailed, f"{where} answered {error.status_code}: {_detail(error)}."
        else:
            kind, text = EndpointFailed, f"{where} failed: {type(error).__name__}: {error}."
        return kind(s.scrub(text))


def _same_model(asked: str, served: str) -> bool:
    """Ollama lists ``qwen2.5:latest`` for ``qwen2.5``; llama.cpp may list the model file's path."""
    asked, served = asked.strip(), served.strip()
    return asked in (served, served.removesuffix(":latest"), served.rsplit("/", 1)[-1])


def _cause(error: Exception) -> str:
    cause = error.__cause__ or error.__context__
    while cause is not None and (cause.__cause__ or cause.__context__) is not None:
        cause = cause.__cause__ or cause.__context__
    return str(cause or error).strip() or type(error).__name__


def _detail(error) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return str(message)[:300]
    return str(getattr(error, "message", "") or error)[:300]


def stream_chat(settings: LLMSettings, messages: Sequence[Message]) -> Iterator[str]:
    """One streamed chat answer from the endpoint ``settings`` names."""
    yield from ChatClient(settings).stream(messages)
