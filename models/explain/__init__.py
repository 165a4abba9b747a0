"""Looking inside a trained model: activations, attribution, one unit's field, channel sums, feature pictures,
fooling, robustness, the translation test, nearest neighbours and the learned filters over training.

Most of these modules run a model (TensorFlow), so nothing is re-exported here: import from the module, e.g.
`from models.explain.attribution import occlusion_map`, `from models.explain.channel_sum import conv_partials`,
`from models.explain.adversarial import fgsm`; inspection.py holds the shared model pass and evaluation.
"""
