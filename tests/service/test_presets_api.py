"""Unlearning presets through the API: an unknown preset is a 422 naming the field and the known presets;
a known one is stored as submitted and resolved the same way whenever the spec is read."""

from service.specs.presets import PRESETS
from tests.service.problems import field_problems
from tests.service.submissions import spec_for


def test_an_unknown_preset_is_a_422_listing_the_known_ones(client, auth, model_root):
    recipe = {"method": "npo_klr", "name": "u", "preset": "muse-hp"}
    response = client.post("/v1/audits", json=spec_for(model_root, unlearning=[recipe]), headers=auth)
    problems = field_problems(response)
    message = problems["body.unlearning.0.gradient.preset"]
    assert f"unknown preset 'muse-hp' (known: {', '.join(sorted(PRESETS))})" in message
    assert client.get("/v1/audits", headers=auth).json()["total"] == 0


def test_a_known_preset_is_accepted(client, auth, model_root):
    recipe = {"method": "npo_klr", "name": "u", "preset": "muse-news", "max_steps": 1, "chunk_length": 32}
    response = client.post("/v1/audits", json=spec_for(model_root, unlearning=[recipe]), headers=auth)
    assert response.status_code == 202, response.text
    stored = client.get(f"/v1/audits/{response.json()['id']}", headers=auth).json()
    assert stored["spec"]["unlearning"][0]["preset"] == "muse-news"
