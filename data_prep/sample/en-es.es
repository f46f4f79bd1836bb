La casa es pequeña pero muy cálida.
Mi madre está preparando la cena en la cocina.
Los niños están jugando en el jardín.
Mi padre lee el periódico todas las mañanas.
Tenemos una mesa grande en la cocina.
Cierra la ventana, por favor, hace frío.
Mi hermana vive en un piso pequeño en la ciudad.
Mi hermano es mayor que yo.
El gato está durmiendo en la cama.
El perro está esperando en la puerta.
Nuestra casa tiene tres habitaciones y un jardín pequeño.
Mi abuela nos cuenta historias todas las noches.
Mi abuelo trabaja en el jardín todos los días.
La cocina está limpia y la mesa está puesta.
Abro la ventana todas las mañanas.
Los niños se acuestan a las ocho.
Mis padres tienen una casa cerca del mar.
Los domingos desayunamos juntos.
El libro está en la mesa al lado de la lámpara.
Mi hermano juega al fútbol con sus amigos todos los sábados por la mañana, aunque haga frío y llueva.
Tengo dos hermanos y una hermana.
El bebé está durmiendo, por favor, haz silencio.
Mi madre trabaja en un hospital.
Mi padre va al trabajo en coche todos los días.
Desde la ventana de nuestra habitación del hotel podíamos ver el mar, la playa y las montañas.
Hay una lámpara pequeña al lado de mi cama.
Limpiamos la casa todos los sábados.
Mi habitación es pequeña, pero me gusta.
Los niños ven la televisión en el salón.
Mi abuela vive con nosotros.
El agua de la cocina está muy caliente.
Cuando llueve el domingo, nos quedamos en casa y leemos libros en el salón.
Las llaves están en la mesa de la cocina.
Mi hermana tiene un perro nuevo.
Visitamos a nuestros abuelos cada verano.
Por la noche, la casa está tranquila.
Mi hermano toca la guitarra en su habitación.
Nuestros vecinos tienen dos hijos y un gato.
Lavo los platos después de la cena.
Mi padre está cansado después del trabajo.
Los niños están contentos porque es sábado.
Hay muchos libros en mi habitación.
Nuestro piso nuevo tiene una ventana grande.
Mi madre y mi hermana están en el jardín.
La casa vieja cerca del río está vacía.
El viernes hacemos una fiesta en casa.
Mi tío y mi tía viven en otra ciudad.
Llamo a mis padres todos los domingos.
Los niños ayudan a su madre en la cocina.
Los martes llego tarde a casa.
Tomo una taza de café todas las mañanas.
Ella toma té con leche y azúcar.
Compramos pan fresco en la panadería.
La sopa está demasiado caliente, espera un minuto.
Quisiera un vaso de agua, por favor.
Los niños comen manzanas y plátanos.
Mi madre hace la mejor sopa del mundo.
Después del colegio, los niños hacen los deberes en la cocina mientras su padre prepara la cena.
¿Quieres arroz o patatas con el pollo?
El restaurante cerca de la estación es muy bueno.
No como carne, pero como pescado.
El pan está fresco y la mantequilla está fría.
Para la tarta necesitamos huevos, leche y queso.
Mi padre cocina pasta los domingos.
Este queso está muy bueno con pan.
El café de esta cafetería es demasiado fuerte.
Los niños deberían comer fruta y verdura todos los días.
Tengo hambre, comamos algo.
La cena está lista, venid a la mesa.
Comimos en un pequeño restaurante junto al río.
El camarero trae la carta y una botella de agua.
Mi abuela siempre dice que un buen desayuno es la comida más importante del día.
A mi hermana no le gusta el café, prefiere el té.
En verano los días son largos y a menudo cenamos fuera, en el jardín.
Las manzanas de nuestro jardín son dulces.
Como un bocadillo en el trabajo todos los días.
Este restaurante es caro, pero la comida es excelente.
Tomamos zumo de naranja en el desayuno.
Las verduras del mercado son frescas y baratas.
Mi abuela hace pan todos los sábados.
¿Me trae la cuenta, por favor?
El pollo con arroz está muy bueno.
Tengo sed, ¿hay agua?
Quiero comprar una bicicleta nueva, pero la tienda de nuestra calle está cerrada hoy.
Los niños quieren un helado después de la comida.
Pongo azúcar en el café, pero no leche.
La sopa tiene patatas, zanahorias y cebollas.
Cuando era niño, vivía con mis padres en un pueblo pequeño cerca del bosque.
Los sábados compramos fruta y verdura en el mercado.
Este pescado viene fresco del mar.
La panadería abre a las siete de la mañana.
Quisiera una mesa para dos, por favor.
La comida en esta ciudad es muy buena.
Comemos mucho pan y queso.
El té está frío, voy a hacer otra taza.
Mi padre no come azúcar.
Los huevos están en la nevera al lado de la leche.
Los viernes por la noche comemos pizza a menudo.
El mercado abre todas las mañanas excepto el domingo.
Para nosotros, el almuerzo es la comida más importante del día.
El tren sale a las nueve.
¿Dónde está la estación de tren, por favor?
Vamos al mar en tren.
El avión llega a París a mediodía.
Necesito un billete para el autobús.
Nuestro hotel está cerca de la playa.
La habitación del hotel tiene vistas al mar.
Viajamos a España cada verano.
El autobús llega tarde otra vez hoy.
Si mañana hace buen tiempo, caminaremos a lo largo del río hasta el puente viejo.
¿Cuánto cuesta un billete a Berlín?
El aeropuerto está lejos de la ciudad.
Tomamos un taxi al hotel.
He perdido mi pasaporte en el aeropuerto.
La playa es preciosa por la mañana.
Nos quedamos tres noches en el hotel.
El tren al aeropuerto es rápido y barato.
Perdone, ¿está libre este asiento?
Mañana queremos visitar el casco antiguo.
Mis amigos van en coche a la montaña.
El mapa está en mi bolso.
Hoy llueve, llévate un paraguas.
Hace buen tiempo y brilla el sol.
Aquí hace mucho frío en invierno.
El tren a la montaña llegaba tarde, así que tomamos un café en la estación.
En el sur, el verano es caluroso y seco.
Hoy el viento es muy fuerte.
Mañana va a llover por la mañana.
El cielo está gris y hace frío.
En primavera, los árboles del jardín vuelven a estar verdes.
Hoy hace demasiado calor para trabajar en el jardín.
Los niños juegan en la nieve toda la tarde.
En la montaña, el tiempo cambia rápido.
En otoño, las hojas son rojas y amarillas.
Hace calor, vamos a la playa.
Dejó de llover y salió el sol.
Nos quedamos en casa por la lluvia.
Es un día precioso para dar un paseo.
En junio, el mar está frío.
Mi abrigo de invierno es cálido pero pesado.
Nos vamos de vacaciones en agosto.
El tren está lleno, no hay asientos libres.
Siempre duermo mal en el avión.
El desayuno del hotel empieza a las siete.
¿Puede indicarme el camino al museo?
El museo cierra los lunes.
Caminamos a lo largo del río hasta el puente viejo.
Mi primer viaje en avión fue a Italia.
Las vacaciones de verano son largas y calurosas.
Hoy hace viento y frío junto al mar.
Empiezo a trabajar a las ocho.
Mi oficina está en el tercer piso.
La reunión empieza a las diez.
Mi compañero está enfermo hoy.
Trabajo en una oficina pequeña en la ciudad.
El ordenador es nuevo, pero es muy lento.
Escribo muchos correos electrónicos todos los días.
Mi jefe es amable pero está muy ocupado.
Tenemos mucho trabajo esta semana.
Los viernes trabajo desde casa.
La oficina está cerrada el fin de semana.
Mi hermano busca un trabajo nuevo.
Trabaja como profesora en un colegio.
Tengo una reunión con mi jefe después de comer.
Los niños van al colegio en autobús.
El colegio empieza a las ocho de la mañana.
Nuestro profesor es joven y muy amable.
Mi hermana trabaja en un hospital de la ciudad y a menudo vuelve a casa muy tarde por la noche.
Mi hermana aprende inglés en el colegio.
Los alumnos leen un libro en clase.
Compramos pan fresco, queso y fruta en el mercado y comimos en el parque.
Aprendo alemán porque quiero trabajar en Berlín.
El profesor escribe las palabras nuevas en la pizarra.
Mi hijo va a un colegio cerca de nuestra casa.
Mi hija quiere estudiar medicina.
La biblioteca es tranquila y tiene muchos libros.
Estudio en la biblioteca todas las tardes.
Los alumnos tienen un recreo a las diez.
No he entendido la pregunta, ¿puedes repetirla?
Los niños aprenden a leer y escribir en el colegio.
Mi amiga trabaja en un banco en el centro de la ciudad.
Estoy cansado porque ayer trabajé hasta tarde.
La nueva compañera es de Francia.
Terminamos de trabajar a las cinco y nos vamos a casa.
Mi padre trabaja en esta fábrica desde hace veinte años.
Los alumnos hacen el examen por la mañana.
La profesora está contenta porque la clase ha trabajado bien.
Me he olvidado el libro en casa.
Las matemáticas son difíciles, pero me gustan.
El colegio tiene un jardín grande y una biblioteca.
Necesito un ordenador nuevo para el trabajo.
Mi madre va al trabajo en tren.
Los niños están cansados después de un largo día de colegio.
Comemos juntos en la cocina de la oficina.
Tengo una pregunta sobre los deberes.
La universidad está en la parte antigua de la ciudad.
Mi amigo es médico y trabaja de noche.
En la oficina, el teléfono suena todo el día.
El año que viene quiero aprender francés.
Las vacaciones empiezan la semana que viene y los niños están contentos.
El perro corre detrás de la pelota en el parque.
A nuestro gato le gusta dormir al sol.
Hay muchos pájaros en los árboles.
El caballo come hierba en el campo.
Mi abuelo tiene dos vacas y muchas gallinas.
Los niños quieren un perro, pero nuestro piso es demasiado pequeño.
Paseo al perro todas las mañanas y todas las noches.
Los peces nadan en el río.
El gato negro está sentado junto a la ventana.
Nuestro perro es viejo, pero todavía le gusta jugar.
Los pájaros cantan temprano por la mañana.
Vimos muchos animales en el zoo.
La ciudad es grande y hay muchos coches.
Los sábados, las calles están llenas de gente.
El banco está al lado de Correos.
Gire a la izquierda en la iglesia y siga recto.
El parque del centro de la ciudad es muy bonito.
Por la mañana hay mucho tráfico.
Vivimos en una calle tranquila cerca del parque.
La iglesia antigua de la plaza es muy famosa.
La ciudad tiene muchos museos y parques.
La parada de autobús está delante del hotel.
Por la noche, la ciudad está tranquila y las calles están vacías.
El puente nuevo sobre el río es muy largo.
A menudo voy en bicicleta por la ciudad.
La plaza del mercado es el corazón del casco antiguo.
El domingo subimos a la montaña.
El río es largo y el agua es clara.
En el bosque hay muchos árboles viejos.
Paseamos por el bosque todos los domingos.
El lago es pequeño, pero el agua está muy fría.
Las flores del jardín son rojas y amarillas.
Desde la montaña podemos ver toda la ciudad.
En verano, los niños nadan en el lago.
Hay nieve en las montañas todo el año.
El sol se pone detrás de las montañas.
Después de la lluvia, el bosque está verde y tranquilo.
El perro nada en el lago con los niños.
Un pájaro pequeño está posado en el alféizar.
La granja está lejos de la ciudad, cerca del bosque.
Por la mañana, los caballos corren por el campo.
El mar es azul y la playa es blanca.
A mi gato no le gusta el perro de nuestros vecinos.
La biblioteca municipal abre hasta las ocho de la tarde.
La estación está a diez minutos a pie de aquí.
Por la tarde nos sentamos junto al río y miramos los pájaros.
La profesora pidió a los alumnos que leyeran el libro en casa y que escribieran un cuento corto.
La carretera al pueblo pasa por el bosque.
Nuestro pueblo es pequeño, pero tiene un colegio y una iglesia.
Por la tarde, las vacas vuelven del campo.
Me duele la cabeza y estoy muy cansado.
Nuestro perro se pone muy contento cuando los niños vuelven del colegio por la tarde.
El médico dice que tengo que descansar tres días.
Mi hijo tiene fiebre y hoy se queda en casa.
Bebe mucha agua cuando hace calor.
La farmacia abre hasta las siete de la tarde.
Me acuesto temprano porque estoy enfermo.
Mi abuelo camina una hora al día para mantenerse sano.
El sueño es importante para la salud.
Me duele la espalda después de un largo día de trabajo.
Hoy me encuentro mucho mejor, gracias.
El hospital está al otro lado del río.
Tengo que comprar un par de zapatos nuevos.
¿Cuánto cuesta esta camisa?
La tienda de la esquina vende fruta fresca.
Estos zapatos me quedan pequeños.
¿Tiene esta chaqueta en azul?
Los domingos, las tiendas están cerradas.
Pago con tarjeta, no en efectivo.
Mi madre compra ropa para los niños en el mercado.
Este vestido es bonito, pero es demasiado caro.
El supermercado abre hasta las diez de la noche.
Necesitamos una mesa nueva para la cocina.
He comprado un abrigo cálido para el invierno.
Mi hermano juega al fútbol todos los sábados.
Nadamos en la piscina dos veces por semana.
El partido de fútbol empieza esta noche a las ocho.
Mi hermana corre en el parque todas las mañanas.
Nuestro equipo ganó el partido el domingo.
Los fines de semana juego al tenis con mi padre.
En verano, los niños aprenden a nadar.
El deporte es bueno para el cuerpo y la cabeza.
Vemos el partido de fútbol en la televisión.
En invierno esquiamos en la montaña.
Mi amigo va al trabajo en bicicleta todos los días.
¿Qué hora es, por favor?
Lo siento, no lo entiendo.
Muchas gracias por tu ayuda.
Mi amigo es de un pueblo pequeño de la montaña.
Después del trabajo quedamos con nuestros amigos en la cafetería.
Leo un libro antes de dormir.
El médico le dijo a mi padre que comiera más verdura y que caminara todos los días.
Esta noche vamos al cine.
La película era larga, pero muy buena.
Los viernes por la noche juego a las cartas con mis amigos.
¿Me ayudas con la maleta, por favor?
Me gusta escuchar música en el coche.
El concierto del parque es gratis.
Somos amigos desde el colegio.
Es tarde, ahora tengo que irme a casa.
