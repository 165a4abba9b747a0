"""Every session-state and widget key, declared once: pages, components and tests import them from here."""

# ---------------------------------------------------------------- shared by several pages
IMAGE_SOURCE = "image_source"  # the chosen input image, shared by the Filters and Pooling pages
LEARNER = "learner_token"  # str: who this browser is (components.learner); keys the saved runs and jobs
TRAINING_NOTICES = "training_notices"  # [(run name, status, message)] for jobs that ended without a run
TRAINING_START_ERROR = "training_start_error"  # why the last Train / preset click could not start
PRESENTATION = "presentation_mode"  # bool: presentation mode on (components.presentation, ?present=1)
PRESENTATION_TOGGLE = "presentation_toggle"  # the sidebar toggle widget; copied from PRESENTATION each run
APP_RAN = "app_ran"  # True once app.py has run in this session: its pages run through st.navigation
PAGE_LINKS = "page_links"  # {page script hash: the link parameters it last wrote}: a page reopens as it was left
ARCHITECTURE_CONFIG = "architecture_config"  # CNNConfig dict built on the Architecture page
TRAIN_DESIGN_REQUEST = "train_design_request"  # set by "Train this network": Training preselects the design

# ---------------------------------------------------------------- Architecture page

# ---------------------------------------------------------------- Filters page
FILTERS_QUIZ_ROUND = "filters_quiz_round"  # int: which 'Guess first' question the Filters page shows
FILTERS_QUIZ_ANSWERED = "filters_quiz_answered"  # (question signature, chosen option) once checked

# ---------------------------------------------------------------- Pooling page

# ---------------------------------------------------------------- Training page

# ---------------------------------------------------------------- Inspect page
INSPECT_TAB = "inspect_tab"  # the open tab's label (st.tabs); also ?tab=, by slug
INSPECT_MODEL = "inspect_model"  # int: 0 the shipped model, i the learner's i-th saved run
INSPECT_SOURCE = "inspect_source"  # Feature maps: which test images (course trio, first of a class, by index)
INSPECT_CLASS = "inspect_class"  # Feature maps: the class whose first images are shown
INSPECT_COUNT = "inspect_count"  # Feature maps: how many images of that class
INSPECT_INDICES = "inspect_indices"  # Feature maps: test image indices as typed, e.g. "0, 23, 28" (also ?images=)
INSPECT_FILTER = "inspect_filter"  # Feature maps: the filter number shown through every layer
INSPECT_MAP_IMAGE = "inspect_map_image"  # Feature maps: which shown image has all its maps drawn
INSPECT_MAP_LAYER = "inspect_map_layer"  # Feature maps: the layer whose maps are all drawn
INSPECT_MAP_SCALE = "inspect_map_scale"  # Feature maps: bool, one colour range per map
INSPECT_WEIGHTS = "inspect_weights"  # Learned filters: after training or at initialisation
INSPECT_CONFUSION = "inspect_confusion"  # Evaluation: the confusion-matrix chart (its click selection)
INSPECT_TRUE = "inspect_true"  # Evaluation: the true class of the chosen confusion cell
INSPECT_PRED = "inspect_pred"  # Evaluation: the predicted class of the chosen confusion cell
INSPECT_CELL_COUNT = "inspect_cell_count"  # Evaluation: how many of the cell's images are shown
INSPECT_CELL_FILTER = "inspect_cell_filter"  # Evaluation: the filter whose maps the cell's images show
INSPECT_INDEX = "inspect_index"  # Why this prediction: the test image explained
INSPECT_CLASS_TO_EXPLAIN = "inspect_class_to_explain"  # Why this prediction: the class whose score is explained
INSPECT_PROJECTION = "inspect_projection"  # Embedding: PCA or t-SNE
INSPECT_EMBEDDING_WHY = "inspect_embedding_why"  # Embedding: the clicked item's "Why this prediction?" button


def inspect_embedding_chart(projection: str) -> str:
    """Embedding: the scatter chart's key (its click selection) for one projection choice, e.g. "PCA: ..."."""
    return f"inspect_embedding_{projection[:3]}"


# ---------------------------------------------------------------- Predict page

# ---------------------------------------------------------------- Week 3 tour
TOUR_STEP = "tour_step"  # int: the Week 3 tour's current step, 0-based (also ?step=, 1-based)
