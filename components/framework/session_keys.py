"""Every session-state and widget key, declared once: pages, components and tests import them from here."""

import hashlib

# ---------------------------------------------------------------- shared by several pages
IMAGE_SOURCE = "image_source"  # the chosen input image, shared by the Filters and Pooling pages
LEARNER = "learner_token"  # str: who this browser is (components.framework.learner); keys the saved runs and jobs
TRAINING_NOTICES = "training_notices"  # [(run name, status, message)] for jobs that ended without a run
TRAINING_WAITS = "training_waits"  # dict run id -> seconds from Train to its result (this session's runs)
TRAINING_START_ERROR = "training_start_error"  # why the last Train / preset click could not start
PRESENTATION = "presentation_mode"  # bool: presentation mode on (components.presentation, ?present=1)
PRESENTATION_TOGGLE = "presentation_toggle"  # the sidebar toggle widget; copied from PRESENTATION each run
APP_RAN = "app_ran"  # True once app.py has run in this session: its pages run through st.navigation
PAGE_LINKS = "page_links"  # {page script hash: the link parameters it last wrote}: a page reopens as it was left
ARCHITECTURE_CONFIG = "architecture_config"  # CNNConfig dict built on the Architecture page
TRAIN_DESIGN_REQUEST = "train_design_request"  # set by "Train this network": Training preselects the design
SHAPE_FLOW = "shape_flow"  # chart: the shape-flow diagram (Home, Architecture, the tour's model step)


def image_picker_key(prefix: str, widget: str) -> str:
    """A widget of components.image_picker under a page's prefix: source, mode, sample, upload or camera."""
    return f"{prefix}_{widget}"


# ---------------------------------------------------------------- Architecture page
ARCHITECTURE_UPLOADED = "architecture_uploaded"  # selectbox: which uploaded model's layer table is shown


def architecture_widget(field: str) -> str:
    """The builder widget of one CNNConfig field (components.framework.query_state.BUILDER_CHOICES):
    'architecture_filters'."""
    return f"architecture_{field}"


# ---------------------------------------------------------------- Filters page
FILTERS_QUIZ_ROUND = "filters_quiz_round"  # int: which 'Guess first' question the Filters page shows
FILTERS_QUIZ_ANSWERED = "filters_quiz_answered"  # (question signature, chosen option) once checked
FILTERS_IMAGE = "filters"  # the page's image_picker prefix: filters_source, filters_mode, filters_sample, ...
FILTERS_STEP_PRODUCTS = "filters_step_products"  # chart: one output pixel's window x kernel = products
FILTERS_KERNEL_SOURCE = "filters_kernel_source"  # radio: Library / Edit your own / Learned by the network
FILTERS_LIBRARY = "filters_library"  # selectbox: the named kernel
FILTERS_NORMALISE = "filters_normalise"  # checkbox: divide the weights by their sum
FILTERS_GRID_SIZE = "filters_grid_size"  # radio: 3x3 / 5x5 / 7x7 for an edited kernel
FILTERS_LEARNED_INDEX = "filters_learned_index"  # selectbox: which learned filter of the first Conv2D layer
FILTERS_LEARNED_EPOCH = "filters_learned_epoch"  # select_slider: its weights after which epoch
FILTERS_LEARNED_NETWORK = "filters_learned_network"  # selectbox: the shipped CNN or an uploaded model's run id
FILTERS_STRIDE = "filters_stride"  # select_slider: 1, 2 or 3
FILTERS_DILATION = "filters_dilation"  # select_slider: 1 to 4, the kernel's taps that many pixels apart (?dilation=)
FILTERS_PADDING = "filters_padding"  # radio: valid / same
FILTERS_QUIZ = "filters_quiz"  # toggle: 'Guess first (quiz)'
FILTERS_QUIZ_CHECK = "filters_quiz_check"  # button: Check my guess
FILTERS_QUIZ_NEW = "filters_quiz_new"  # button: New question
FILTERS_DOWNLOAD_PNG = "filters_download_png"  # download button: the filtered image
FILTERS_DOWNLOAD_NPY = "filters_download_npy"  # download button: the raw values
FILTERS_STEP_CHANNEL = "filters_step_channel"  # radio: the colour channel of the step-by-step pixel
FILTERS_ALL_RESPONSES = "filters_all_responses"  # toggle: all 64 learned filters' responses
FILTERS_DEMO_POSITION = "filters_demo_position"  # int: the small example's output position (0 to 15, row by row)
FILTERS_DEMO_PLAYING = "filters_demo_playing"  # bool: the small example steps on by itself (Play)
FILTERS_DEMO_TICK = "filters_demo_tick"  # float: time.monotonic() of its last step while playing
FILTERS_DEMO_BACK = "filters_demo_back"  # button: one position back
FILTERS_DEMO_NEXT = "filters_demo_next"  # button: one position on
FILTERS_DEMO_PLAY = "filters_demo_play"  # button: Play / Pause
FILTERS_DEMO_CHART = "filters_demo_chart"  # plotly chart: input, kernel, products, output so far


def filters_start_key(size: int) -> str:
    """selectbox: the template an edited kernel of this size starts from."""
    return f"filters_start_{size}"


def filters_text_key(size: int, start: str) -> str:
    """text_area: the weights typed over this template (a new template starts a new text)."""
    return f"filters_text_{size}_{start}"


def filters_quiz_guess_key(signature: str) -> str:
    """radio: the guess for the quiz question with this signature (a new question starts unanswered)."""
    return f"filters_quiz_guess_{signature[:12]}"


def filters_step_key(axis: str, size: int) -> str:
    """slider: the step-by-step pixel's output row / col (axis) on an output this many pixels long."""
    return f"filters_step_{axis}_{size}"


# ---------------------------------------------------------------- Pooling page
POOLING_IMAGE = "pooling"  # the page's image_picker prefix: pooling_source, pooling_mode, pooling_sample, ...
POOL_FILTER = "pool_filter"  # selectbox: the filter applied before pooling
POOL_RELU = "pool_relu"  # checkbox: ReLU after that filter
POOL_MODE = "pool_mode"  # radio: max / avg / min
POOL_SIZE = "pool_size"  # number_input: the window side
POOL_STRIDE = "pool_stride"  # number_input: the step between windows
POOL_PADDING = "pool_padding"  # radio: valid / same
POOL_TRUE_SIZE = "pool_true_size"  # chart: before and after at true relative size
POOL_SCALED = "pool_scaled"  # chart: before and after scaled to one size
POOL_WINDOWS = "pool_windows"  # chart: the windows and their values
POOL_CHANNEL = "pool_channel"  # radio: the colour channel of the window and shift views
POOL_SHIFT_DY = "pool_shift_dy"  # slider: move the map down
POOL_SHIFT_DX = "pool_shift_dx"  # slider: move the map right
POOL_SHIFT_BEFORE = "pool_shift_before"  # chart: the shifted map
POOL_SHIFT_AFTER = "pool_shift_after"  # chart: the shifted map pooled
POOL_REPEATED = "pool_repeated"  # chart: the picture pooled again and again
WALK_ITEM = "walk_item"  # selectbox: the Fashion-MNIST class walked through the course model
WALK_FILTER = "walk_filter"  # selectbox: the learned filter of the first conv
WALK_KERNEL = "walk_kernel"  # selectbox: the hand-made kernel of the second conv
WALK_MAPS = "walk_maps"  # chart: the item's maps through the course model


def pool_window_key(axis: str, out_shape: tuple[int, int]) -> str:
    """slider: the window's output row / column (axis) for a pooled map of this shape."""
    return f"pool_window_{axis}_{out_shape[0]}x{out_shape[1]}"


def pool_times_key(most: int) -> str:
    """slider: how many times to pool, when these settings can pool the picture at most `most` times."""
    return f"pool_times_{most}"


# ---------------------------------------------------------------- Training page
TRAINING_MODEL = "training_model"  # selectbox: Course CNN, the dense baseline or the Architecture page's design
TRAINING_IMAGES = "training_images"  # select_slider: how many training images
TRAINING_VALIDATION = "training_validation"  # slider: the share of them held out to validate
TRAINING_EPOCHS = "training_epochs"  # slider
TRAINING_BATCH = "training_batch"  # selectbox: batch size
TRAINING_OPTIMIZER = "training_optimizer"  # selectbox
TRAINING_LR = "training_lr"  # select_slider: learning rate
TRAINING_SEED = "training_seed"  # number_input
TRAINING_STOP_EARLY = "training_stop_early"  # toggle: stop at a training accuracy
TRAINING_THRESHOLD = "training_threshold"  # number_input: that accuracy
TRAINING_TRAIN = "training_train"  # the Train button (disabled while the same run is queued or training)
TRAINING_DATA = "training_data"  # radio: Fashion-MNIST / Your own images
TRAINING_UPLOAD = "training_upload"  # file_uploader: the zip of class folders
TRAINING_OWN = "training_own"  # dict: the uploaded dataset's saved path, skipped files' notes, or the error
TRAINING_LIVE = "live-training"  # the container of the job training now (the browser tests find its chart)
TRAINING_SHIFT = "training_shift"  # toggle: RandomTranslation augmentation
TRAINING_ROTATE = "training_rotate"  # toggle: RandomRotation augmentation
TRAINING_ZOOM = "training_zoom"  # toggle: RandomZoom augmentation
TRAINING_FLIP = "training_flip"  # toggle: RandomFlip (horizontal) augmentation
TRAINING_DROPOUT = "training_dropout"  # select_slider: the dropout rate after the dense layer
TRAINING_L2 = "training_l2"  # select_slider: L2 weight decay on every kernel
TRAINING_EARLY = "training_early"  # toggle: early stopping on validation loss
TRAINING_AUGMENT_PREVIEW = "training_augment_preview"  # toggle: show the augmented training images
TRAINING_OWN_WAY = "training_own_way"  # radio: upload a zip / build the dataset here
TRAINING_BUILDER_COUNT = "training_builder_count"  # number_input: how many classes the builder names
TRAINING_BUILDER_NAMES = "training_builder_names"  # list[str]: the 10 class names typed (kept while hidden)
TRAINING_BUILDER_EXAMPLES = "training_builder_examples"  # list of 10 lists of uint8 28x28 arrays, one per class
TRAINING_BUILDER_CLASS = "training_builder_class"  # int: the class slot (0-9) examples are added to
TRAINING_BUILDER_SOURCE = "training_builder_source"  # segmented_control: Draw / Camera / Upload
TRAINING_BUILDER_BRUSH = "training_builder_brush"  # slider: the drawing's brush size
TRAINING_BUILDER_ROUND = "training_builder_round"  # int: bumped after each add, so the canvas and uploader empty
TRAINING_BUILDER_ADD = "training_builder_add"  # button: add the drawing
TRAINING_BUILDER_CAMERA = "training_builder_camera"  # camera_input: each new snapshot is added
TRAINING_BUILDER_LAST = "training_builder_last"  # dict: the last example's file, class and label, for its steps
TRAINING_BUILDER_NOTES = "training_builder_notes"  # list[str]: why files of the last add were not added
TRAINING_BUILDER_STEPS = "training_builder_steps"  # toggle: every preprocessing step of the last example
TRAINING_BUILDER_REMOVE_CHOICE = "training_builder_remove_choice"  # multiselect: example numbers to remove
TRAINING_BUILDER_REMOVE = "training_builder_remove"  # button: remove them
TRAINING_BUILDER_USE = "training_builder_use"  # button: Use this dataset (saved like an uploaded zip)


def training_builder_name(slot: int) -> str:
    """text_input: the name of the builder's class in this slot (0-9)."""
    return f"training_builder_name_{slot}"


def training_builder_class(labels: str) -> str:
    """radio: the class examples are added to; its labels (names and counts) are part of the key, since a radio's
    value is its label."""
    return f"training_builder_class_{hashlib.sha256(labels.encode()).hexdigest()[:12]}"


def training_builder_canvas(round_: int) -> str:
    """The builder's drawing canvas; a new round (after an add) is a new, empty canvas."""
    return f"training_builder_canvas_{round_}"


def training_builder_upload(round_: int) -> str:
    """file_uploader: the builder's single images; a new round (after an add) is an empty uploader."""
    return f"training_builder_upload_{round_}"


def training_cancel(job_id: int) -> str:
    """The Cancel button of a queued job."""
    return f"cancel-{job_id}"


def training_stop(job_id: int) -> str:
    """The Stop button of a job training now."""
    return f"stop-{job_id}"


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
INSPECT_OCCLUSION_PATCH = "inspect_occlusion_patch"  # Why this prediction: number_input, occlusion patch side
INSPECT_OCCLUSION_STRIDE = "inspect_occlusion_stride"  # Why this prediction: number_input, pixels between patches
INSPECT_OCCLUSION_FILL = "inspect_occlusion_fill"  # Why this prediction: radio, the patch's fill (grey / mean)
INSPECT_SMOOTHGRAD_NOISE = "inspect_smoothgrad_noise"  # Why this prediction: slider, noise sigma / image range
INSPECT_SMOOTHGRAD_SAMPLES = "inspect_smoothgrad_samples"  # Why this prediction: slider, noisy copies averaged
INSPECT_PROJECTION = "inspect_projection"  # Embedding: PCA or t-SNE
INSPECT_EMBEDDING_WHY = "inspect_embedding_why"  # Embedding: the clicked item's "Why this prediction?" button
INSPECT_UPLOAD = "inspect_upload"  # file_uploader: the learner's own .keras model ("Use your own model")
INSPECT_UPLOAD_RESULT = "inspect_upload_result"  # (file id, ok, message) of the last model file checked


def inspect_embedding_chart(projection: str) -> str:
    """Embedding: the scatter chart's key (its click selection) for one projection choice, e.g. "PCA: ..."."""
    return f"inspect_embedding_{projection[:3]}"


# ---------------------------------------------------------------- Deeper page
DEEPER_TAB = "deeper_tab"  # the open tab's label (st.tabs); also ?tab=, by slug
DEEPER_MODEL = "deeper_model"  # int: 0 the shipped model, i the learner's i-th saved run
DEEPER_INDEX = "deeper_index"  # the test image the Channel sum, Receptive fields and Fooling tabs use (also ?image=)

# Deeper, Channel sum
DEEPER_CHANNELS_LAYER = "deeper_channels_layer"  # selectbox: which conv layer over several channels (conv2)
DEEPER_CHANNELS_FILTER = "deeper_channels_filter"  # number_input: the filter of that layer
DEEPER_CHANNELS_ROW = "deeper_channels_row"  # number_input: the output pixel's row (also set by a click)
DEEPER_CHANNELS_COL = "deeper_channels_col"  # number_input: the output pixel's column (also set by a click)
DEEPER_CHANNELS_SUM = "deeper_channels_sum"  # plotly_chart: the sum + bias and its activation, click a pixel
DEEPER_CHANNELS_GRIDS = "deeper_channels_grids"  # chart: the input maps, kernel slices and partial maps

# Deeper, Receptive fields
DEEPER_FIELDS_LAYER = "deeper_fields_layer"  # selectbox: the layer whose unit is looked at
DEEPER_FIELDS_ROW = "deeper_fields_row"  # number_input: the unit's row in that layer's map
DEEPER_FIELDS_COL = "deeper_fields_col"  # number_input: the unit's column
DEEPER_FIELDS_UNIT = "deeper_fields_unit"  # number_input: the unit of a dense layer
DEEPER_FIELDS_FILTER = "deeper_fields_filter"  # number_input: the filter (channel) of a map layer's unit
DEEPER_FIELDS_MAP = "deeper_fields_map"  # the layer's map chart (its click selection)
DEEPER_FIELDS_SHOWN = "deeper_fields_shown"  # str: the layer of the last run, to keep the spot when it changes

# Deeper, What filters want
DEEPER_FEATURES_LAYER = "deeper_features_layer"  # segmented_control: conv1, conv2 or the output classes
DEEPER_FEATURES_WEIGHTS = "deeper_features_weights"  # segmented_control: after training or at initialisation
DEEPER_FEATURES_UNIT = "deeper_features_unit"  # number_input: the filter (or class) shown beside its patches
DEEPER_FEATURES_COMPUTE = "deeper_features_compute"  # button: compute a training run's pictures
DEEPER_FEATURES_ASKED = "deeper_features_asked"  # the model key whose pictures the button asked for (its callback)

# Deeper, Fooling it
FOOLING_SOURCE = "fooling_source"  # radio: a test image or the learner's drawing
FOOLING_METHOD = "fooling_method"  # radio: FGSM or the iterative attack
FOOLING_EPSILON = "fooling_epsilon"  # slider: epsilon, the most any pixel may move
FOOLING_BRUSH = "fooling_brush"  # slider: the drawing's brush size
FOOLING_CANVAS = "fooling_canvas"  # the drawing canvas

# Deeper, Robustness
DEEPER_ROBUSTNESS_COMPUTE = "deeper_robustness_compute"  # button: compute the curves not computed yet
DEEPER_ROBUSTNESS_ASKED = "deeper_robustness_asked"  # True from that click until the computation starts


# ---------------------------------------------------------------- Predict page
PREDICT_SOURCE = "predict_source"  # radio: Examples, Draw, Upload, Camera
PREDICT_MODEL = "predict_model"  # int: 0 the shipped model, i the learner's i-th saved run (as INSPECT_MODEL)
PREDICT_EXAMPLE = "predict_example"  # selectbox: the class of the example photo
PREDICT_BRUSH = "predict_brush"  # slider: the drawing's brush size
PREDICT_CANVAS = "predict_canvas"  # the drawable canvas
PREDICT_UPLOAD = "predict_upload"  # file_uploader
PREDICT_CAMERA = "predict_camera"  # camera_input
PREDICT_INVERT = "predict_invert"  # segmented_control: Auto, On, Off
PREDICT_CROP = "predict_crop"  # toggle: crop to the object
PREDICT_DARKEN = "predict_darken"  # toggle: background to black
PREDICT_FILTER = "predict_filter"  # number_input: the filter shown after each layer
PREDICT_LAYER = "predict_layer"  # radio: the layer whose maps are all shown


# ---------------------------------------------------------------- Week 3 tour
COMPACT_TITLE = "compact_title"  # the container of a page title drawn small on a projector (the tour's)
TOUR_STEP = "tour_step"  # int: the Week 3 tour's current step, 0-based (also ?step=, 1-based)
TOUR_IMAGE = "tour"  # the image_picker prefix of the tour's Filter and Pooling steps
TOUR_TRAIN = "tour_train"  # the tour's Training step: its Train button


def tour_back(place: str) -> str:
    """The Back button at the top or bottom of a tour step."""
    return f"tour_back_{place}"


def tour_next(place: str) -> str:
    """The Next button at the top or bottom of a tour step."""
    return f"tour_next_{place}"


def tour_reveal(step: int) -> str:
    """The toggle that reveals step `step`'s answer (0-based)."""
    return f"tour_reveal_{step}"


# ---------------------------------------------------------------- Class session (and its polls in the tour)
CLASS_LECTURER = "class_lecturer"  # (code, key): the class this browser session leads
CLASS_MESSAGE = "class_message"  # (place, kind, text): the outcome of the last class button, shown once
CLASS_JOIN_CODE = "class_join_code"  # text_input: the code a student types (or ?join=)
CLASS_NICKNAME = "class_nickname"  # text_input: the student's nickname (a random one by default)
CLASS_JOIN = "class_join"  # button: Join
CLASS_LEAVE = "class_leave"  # button: Leave the class
CLASS_START_KEY = "class_start_key"  # text_input: the server's lecturer key, when one is required
CLASS_START_GOAL = "class_start_goal"  # text_input: the challenge goal when starting
CLASS_START_HOURS = "class_start_hours"  # number_input: the class's length in hours when starting
CLASS_START = "class_start"  # button: Start a class
CLASS_RESUME_CODE = "class_resume_code"  # text_input: the code of the class to resume
CLASS_RESUME_KEY = "class_resume_key"  # text_input: its lecturer key
CLASS_RESUME = "class_resume"  # button: Resume
CLASS_GOAL = "class_goal"  # text_input: the lecturer's challenge goal
CLASS_SET_GOAL = "class_set_goal"  # button: Set goal
CLASS_REVEAL = "class_reveal"  # button: Reveal the answer (the projector's current question)
CLASS_END = "class_end"  # button: End the class
CLASS_CSV = "class_csv"  # download button: answers and board as CSV
CLASS_SHARE_RUN = "class_share_run"  # selectbox: which finished run to share
CLASS_SHARE = "class_share"  # button: Share to the class board
CLASS_FOLLOWED = "class_followed"  # int: the lecturer's tour step this student's tour last moved to
CLASS_BACK = "class_back"  # button: back to the lecturer's step
CLASS_QUIZ_PUT = "class_quiz_put"  # button: put a (the next) Filters quiz question to the class
CLASS_QUIZ_CLOSE = "class_quiz_close"  # button: back to the tour's question


def class_answer(step: str) -> str:
    """A student's answer to a poll: text_input for a tour step `step`, radio for a Filters quiz 'filters-N'."""
    return f"class_answer_{step}"


def class_revealed(step: str) -> str:
    """bool: whether this student's page last saw step `step`'s answer revealed (its watch reruns on a change)."""
    return f"class_revealed_{step}"


def class_send(step: str) -> str:
    """button: send that answer."""
    return f"class_send_{step}"
