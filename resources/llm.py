"""An OpenAI (or OpenAI-compatible) chat model as a Dagster resource: one structured completion.

The only code that talks to OpenAI. It knows nothing of what is asked: callers bring the prompt and
the pydantic model the answer must fit, and decide what to do when it is not available or fails.
Settings (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL) are read when the resource is used, not
when it is defined, so the key never sits in Dagster's resource config and the UI never shows it.
"""

from __future__ import annotations

from typing import TypeVar

from dagster import ConfigurableResource
from pydantic import BaseModel

from resources.settings import load_settings

Answer = TypeVar("Answer", bound=BaseModel)


class LLMError(RuntimeError):
    """The model could not give an answer of the asked shape (the message never holds the key)."""


class LLMUnavailable(LLMError):
    """No API key is configured: the model cannot be asked."""


class LLMClient(ConfigurableResource):
    """A chat model answering in a given pydantic shape (OpenAI structured output).

    Each field left empty is read from the settings when used: api_key <- OPENAI_API_KEY,
    base_url <- OPENAI_BASE_URL (unset: the SDK's default), model <- OPENAI_MODEL (default gpt-4o).
    """

    api_key: str | None = None
    base_url: str | None = None
    model: str | None = None
    # The call's budget: timeouts, 429 and 5xx are retried by the SDK (exponential backoff from 0.5 s,
    # Retry-After honoured) at most max_retries times, each try at most timeout_seconds.
    timeout_seconds: float = 30.0
    max_retries: int = 2
    temperature: float = 0.3

    def _key(self) -> str | None:
        if self.api_key:
            return self.api_key
        secret = load_settings().openai_api_key
        return secret.get_secret_value() if secret else None

    @property
    def available(self) -> bool:
        """Whether a key is configured (without one, `complete` raises LLMUnavailable)."""
        return self._key() is not None

    @property
    def resolved_model(self) -> str:
        return self.model or load_settings().openai_model

    def complete(self, system: str, user: str, schema: type[Answer]) -> Answer:
        """The model's answer to `system` + `user`, validated as `schema`.

        Raises LLMUnavailable without a key and LLMError for any failure of the call (network, HTTP
        error, refusal, an answer that does not fit `schema`), with the key scrubbed from the message.
        """
        key = self._key()
        if key is None:
            raise LLMUnavailable("OPENAI_API_KEY is not set")
        from openai import OpenAI  # imported on use: definitions load without touching the SDK

        client = OpenAI(
            api_key=key,
            base_url=self.base_url or load_settings().openai_base_url,
            timeout=self.timeout_seconds,
            max_retries=self.max_retries,
        )
        try:
            completion = client.chat.completions.parse(
                model=self.resolved_model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                response_format=schema,
                temperature=self.temperature,
            )
            message = completion.choices[0].message if completion.choices else None
            if message is None or message.refusal or message.parsed is None:
                why = f"the model refused: {message.refusal}" if message and message.refusal else "no answer"
                raise LLMError(why)
            return message.parsed
        except LLMError as exc:
            raise LLMError(str(exc).replace(key, "***")[:300]) from None
        except Exception as exc:  # noqa: BLE001 - any SDK, network or validation failure is the call failing
            raise LLMError(f"{type(exc).__name__}: {str(exc).replace(key, '***')[:300]}") from None
        finally:
            client.close()
