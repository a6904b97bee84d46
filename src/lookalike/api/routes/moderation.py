"""Moderation: check one image with the moderation signal without indexing it, as the server
would (``POST /moderate``) or as indexing into one collection would. The image comes as JSON
(``image_url``, ``image_base64``) or as a multipart upload (``image``); the core only ever gets
its bytes or an http(s) URL, never a string it could read as a path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from lookalike.api.errors import error_responses
from lookalike.api.inputs import (
    HTTP_URL,
    fetch_query_image,
    http_only,
    media_type,
    missing_file,
    multipart_form,
    upload_bytes,
)
from lookalike.api.state import State
from lookalike.sources import decode_base64

router = APIRouter(tags=["moderation"])

ERRORS = error_responses(400, 401, 403, 404, 413, 415, 422, 503)


class ModerateRequest(BaseModel):
    """One image: exactly one of ``image_url`` and ``image_base64``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    image_url: str | None = Field(
        default=None,
        max_length=8192,
        json_schema_extra={"pattern": HTTP_URL},
        description="An http(s) URL, fetched by the server under its URL rules.",
    )
    image_base64: str | None = Field(default=None, description="Base64 or a data: URL.")

    @field_validator("image_url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        return http_only(url)

    @model_validator(mode="after")
    def _one_image(self) -> ModerateRequest:
        if (self.image_url is None) == (self.image_base64 is None):
            raise ValueError("give exactly one of image_url and image_base64")
        return self


class Detection(BaseModel):
    label: str = Field(description="A NudeNet class, e.g. FACE_FEMALE, FEET_EXPOSED.")
    score: float
    box: list[float] = Field(description="[left, top, width, height] as shares of the image.")


class Verdict(BaseModel):
    safe: bool = Field(description="nsfw is below the threshold.")
    nsfw: float = Field(description="The best score among the unsafe classes; 0 if none.")
    threshold: float = Field(description="The server's nsfw_threshold.")
    labels: list[Detection]


def _body_schema() -> dict[str, Any]:
    """Both ways of sending the image, for the OpenAPI schema."""
    request = ModerateRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    kinds = ("image_url", "image_base64")
    request["oneOf"] = [
        {
            "required": [k],
            "properties": {
                o: {"not": {"type": "null"}} if o == k else {"type": "null"} for o in kinds
            },
        }
        for k in kinds
    ]
    upload = {
        "type": "object",
        "required": ["image"],
        "properties": {"image": {"type": "string", "format": "binary"}},
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": request},
                "multipart/form-data": {"schema": upload},
            },
        }
    }


async def _image(request: Request, state: State) -> AsyncIterator[bytes]:
    """The image of the request: uploaded bytes, decoded base64, or an http(s) URL's bytes
    (fetched on threads of their own)."""
    media = media_type(request)
    limit = state.settings.max_image_bytes
    if media == "multipart/form-data":
        form = await multipart_form(request, max_files=1, max_fields=1)
        try:
            image = form.get("image")
            if not isinstance(image, UploadFile):
                raise missing_file("image")
            yield upload_bytes(image, limit)
        finally:
            await form.close()
        return
    if media and media != "application/json" and not media.endswith("+json"):
        raise HTTPException(
            415, f"send the image as JSON or as a multipart/form-data upload, not {media}"
        )
    try:
        body = ModerateRequest.model_validate_json(await request.body() or b"null")
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        ) from exc
    if body.image_url is not None:
        fetched = await fetch_query_image(body.image_url, state)
        assert fetched is not None
        yield fetched
    else:
        assert body.image_base64 is not None
        yield decode_base64(body.image_base64, max_bytes=limit)


ImageInput = Annotated[bytes, Depends(_image)]


@router.post("/moderate", response_model=Verdict, responses=ERRORS, openapi_extra=_body_schema())
def moderate(image: ImageInput, state: State) -> dict[str, Any]:
    """Check one image with the moderation signal; nothing is indexed. Needs the moderation
    extra on the server."""
    return state.engine.moderate(image)


@router.post(
    "/collections/{name}/moderate",
    response_model=Verdict,
    responses=ERRORS,
    openapi_extra=_body_schema(),
)
def moderate_for(name: str, image: ImageInput, state: State) -> dict[str, Any]:
    """Check one image as indexing into this collection would (its decode size); nothing is
    indexed."""
    return state.collection(name).moderate(image)
