"""RMU (WMDP): steer one layer's activations on forget text toward a fixed random direction times c,
keep its activations on retain text equal to the target's; only a few layers' MLP weights train."""

import torch
from transformers import PreTrainedModel

from service.specs.unlearning import RMUConfig
from worker.engine.unlearning.base import TokenChunks
from worker.engine.unlearning.losses import masked_mean_squared_error


def _layer_output(model: PreTrainedModel, chunks: TokenChunks, layer: int) -> torch.Tensor:
    outputs = model(input_ids=chunks.input_ids, attention_mask=chunks.mask, output_hidden_states=True)
    return outputs.hidden_states[layer + 1]  # hidden_states[0] is the embedding output


def control_vector(hidden_size: int, steering_coeff: float, seed: int) -> torch.Tensor:
    """c * u, with u a uniform random unit vector drawn from the seed."""
    direction = torch.rand(hidden_size, generator=torch.Generator().manual_seed(seed))
    return steering_coeff * direction / direction.norm()


def rmu_trainable_layers(config: RMUConfig, n_layers: int) -> list[int]:
    """The layers whose MLP weights train: the config's, else layer-2 .. layer."""
    if not 0 <= config.layer < n_layers:
        raise ValueError(f"rmu.layer: {config.layer} is not a decoder layer of this model (0 .. {n_layers - 1})")
    layers = config.trainable_layers or list(range(max(0, config.layer - 2), config.layer + 1))
    wrong = [layer for layer in layers if not 0 <= layer < n_layers]
    if wrong:
        raise ValueError(f"rmu.trainable_layers: {wrong} are not decoder layers of this model (0 .. {n_layers - 1})")
    return layers


def mlp_parameters(model: PreTrainedModel, layers: list[int]) -> list[torch.nn.Parameter]:
    decoder_layers = model.get_decoder().layers
    return [parameter for layer in layers for parameter in decoder_layers[layer].mlp.parameters()]


class RMUObjective:
    def __init__(self, config: RMUConfig, target: PreTrainedModel, seed: int):
        self.config = config
        self.target = target
        self.control = control_vector(target.config.hidden_size, config.steering_coeff, seed)

    def __call__(
        self, model: PreTrainedModel, forget: TokenChunks, retain: TokenChunks | None
    ) -> dict[str, torch.Tensor]:
        layer = self.config.layer
        control = self.control.to(forget.input_ids.device)
        forget_term = masked_mean_squared_error(_layer_output(model, forget, layer), control, forget.mask)
        if retain is None:
            return {"loss": forget_term, "forget_loss": forget_term.detach()}
        with torch.no_grad():
            target_activations = _layer_output(self.target, retain, layer)
        retain_term = masked_mean_squared_error(_layer_output(model, retain, layer), target_activations, retain.mask)
        return {
            "loss": forget_term + self.config.alpha * retain_term,
            "forget_loss": forget_term.detach(),
            "retain_loss": retain_term.detach(),
        }
