// Small built-in word lists for the `data generate` helpers: enough variety for test data, no network.

export const FIRST_NAMES: readonly string[] = (
  'Ada Alan Amara Ana Ben Carla Chen Dara David Elena Emil Fatima Felix Grace Hana Ivan Jonas Julia ' +
  'Kenji Lara Leon Maya Mateo Nia Noah Olga Omar Priya Rosa Sam Sofia Tariq Uma Victor Yara Zoe'
).split(' ');

export const LAST_NAMES: readonly string[] = (
  'Adams Bauer Costa Dubois Eriksen Fischer Garcia Hansen Ito Jensen Kowalski Lopez Meyer Nakamura ' +
  'Novak Okafor Petrov Quinn Rossi Schmidt Silva Tanaka Weber Wong Yilmaz Zhang'
).split(' ');

export const CITIES: readonly string[] = (
  'Amsterdam Athens Berlin Bogota Cairo Dublin Helsinki Istanbul Lagos Lima Lisbon London Madrid ' +
  'Montreal Mumbai Munich Nairobi Osaka Oslo Paris Prague Seoul Sydney Tokyo Toronto Vienna Warsaw Zurich'
).split(' ');

export const EMAIL_DOMAINS: readonly string[] = ['example.com', 'example.org', 'example.net'];
