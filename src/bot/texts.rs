//! Refusals shared by the command handlers (Russian, Telegram HTML).

pub const REFUSED_STAFF: &str = "Извините, эта команда доступна только сотрудникам компании.";
pub const REFUSED_MANAGERS: &str =
    "Извините, менять настройки чата могут только менеджеры и администраторы.";
pub const GROUP_ONLY: &str = "Эта команда работает в групповом чате с клиентом.";
pub const PRIVATE_ONLY: &str =
    "Эта команда работает в личном чате со мной: напишите мне в личные сообщения.";
pub const NOT_REGISTERED: &str = "Этот чат не зарегистрирован в системе контроля сроков. \
     Обратитесь, пожалуйста, к администратору.";
