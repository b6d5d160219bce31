"""How tests read a 422: {'query.label': reason, ...}, one place to follow the API's error shape."""

from httpx import Response


def field_problems(response: Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    return {".".join(map(str, problem["loc"])): problem["msg"] for problem in response.json()["detail"]}
